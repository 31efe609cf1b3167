"""The engine's exceptions.

```
VTuberError                 anything the engine raises on purpose
├── ConfigError             a malformed config file, flag or profile (names the file and field)
├── CalibrationError        a calibration that cannot be computed (too few views or frames)
├── SourceError             a camera, video file or folder that cannot deliver frames
├── TrackerError            a tracker that cannot start (missing model, bad model file)
├── RecordingError          a recording that cannot be read or repaired
├── ProtocolError           a peer sent something the protocol does not allow
└── SenderError             a sender that cannot start (address in use, bad target)
```

Per-frame trouble (no face this frame, a PnP that failed, a receiver that is not listening) is
*data* or a logged state, never an exception: the engine keeps running. The CLI prints a
``VTuberError`` as one line naming the problem and the fix, without a traceback.
"""

from __future__ import annotations


class VTuberError(Exception):
    """Base class: the message is one line that names the problem and, where known, the fix."""


class ConfigError(VTuberError):
    """A malformed or inconsistent setting."""


class CalibrationError(VTuberError):
    """A calibration capture that cannot produce a result (too few usable views or frames)."""


class SourceError(VTuberError):
    """A frame source that cannot deliver frames."""


class TrackerError(VTuberError):
    """A tracker that cannot start or run."""


class RecordingError(VTuberError):
    """A recording that cannot be read or repaired (not ours, a newer version, damaged header)."""


class ProtocolError(VTuberError):
    """A peer broke the wire protocol."""


class SenderError(VTuberError):
    """A sender that cannot start."""
