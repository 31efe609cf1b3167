"""vtuber: webcam or video to live avatar motion.

The data flow (see ``vtuber.records``)::

    Frame --track--> Landmarks --solve--> Rig --smooth--> Rig --retarget--> AvatarPose --encode/send-->
"""

__version__ = "0.1.0"
