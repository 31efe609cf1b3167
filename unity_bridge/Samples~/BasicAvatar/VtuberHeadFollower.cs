using UnityEngine;
using Vtuber.Bridge;
using Vtuber.Bridge.Core;

/// <summary>
/// Sample: reading frames from your own script. Turns this object with the tracked head and
/// logs the head angles once a second. Add it to any GameObject (e.g. a Cube) and drag the
/// scene's VtuberReceiver into "receiver".
/// </summary>
public sealed class VtuberHeadFollower : MonoBehaviour
{
    public VtuberReceiver receiver;

    float _nextLog;

    void OnEnable()
    {
        if (receiver != null) receiver.FrameReceived += OnFrame;
    }

    void OnDisable()
    {
        if (receiver != null) receiver.FrameReceived -= OnFrame;
    }

    void OnFrame(FrameMessage frame)
    {
        if (frame.Head == null) return; // never tracked yet
        // Already in Unity's frame (the receiver connects with ?coords=unity): use as is.
        transform.localRotation = frame.Head.Rotation.ToUnity();
        if (Time.time >= _nextLog)
        {
            _nextLog = Time.time + 1f;
            Debug.Log(string.Format("frame {0}: yaw {1:F1} pitch {2:F1} roll {3:F1} face tracked {4}",
                frame.Index, frame.Head.YawDeg, frame.Head.PitchDeg, frame.Head.RollDeg, frame.FaceTracked));
        }
    }
}
