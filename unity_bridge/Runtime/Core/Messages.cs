// Parsed schema-1 messages as plain structs and classes, ready to hand to Unity's types:
// new UnityEngine.Quaternion(q.x, q.y, q.z, q.w) and new UnityEngine.Vector3(p.x, p.y, p.z).
// Values are copied from the wire unchanged: a connection opened with ?coords=unity is already in
// Unity's frame (left-handed, +X the avatar's right), so nothing here flips a sign.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Vtuber.Bridge.Core
{
    /// <summary>A position in metres, components named as UnityEngine.Vector3's.</summary>
    [Serializable]
    public struct Vec3
    {
        public float x, y, z;

        public Vec3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }

        public override string ToString()
        {
            return string.Format(CultureInfo.InvariantCulture, "({0}, {1}, {2})", x, y, z);
        }
    }

    /// <summary>A unit quaternion, scalar last, components named as UnityEngine.Quaternion's.
    /// q and -q are the same rotation; w may be negative.</summary>
    [Serializable]
    public struct Quat
    {
        public float x, y, z, w;

        public Quat(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }

        public static Quat Identity { get { return new Quat(0f, 0f, 0f, 1f); } }

        /// <summary>Scaled to unit length (the wire rounds components to 6 decimals); identity for zero.
        /// Never changes the sign.</summary>
        public Quat Normalized()
        {
            double n = Math.Sqrt((double)x * x + (double)y * y + (double)z * z + (double)w * w);
            if (n < 1e-12) return Identity;
            return new Quat((float)(x / n), (float)(y / n), (float)(z / n), (float)(w / n));
        }

        public override string ToString()
        {
            return string.Format(CultureInfo.InvariantCulture, "({0}, {1}, {2}, {3})", x, y, z, w);
        }
    }

    /// <summary>The "head" object of a frame.</summary>
    public sealed class HeadPose
    {
        /// <summary>Head rotation relative to facing the camera squarely, in the connection's coords.</summary>
        public Quat Rotation;
        /// <summary>Metres, head relative to the camera, in the connection's coords (z = -0.6 when 0.6 m away).</summary>
        public Vec3 Position;
        /// <summary>Degrees, always from the engine's internal frame (R = Ry(yaw) Rx(pitch) Rz(roll)):
        /// yaw &gt; 0 turns the face to the avatar's own left, pitch &gt; 0 tips it down, roll &gt; 0 tilts
        /// the top of the head toward the avatar's own right.</summary>
        public double YawDeg, PitchDeg, RollDeg;
    }

    /// <summary>One entry of a frame's "bones" object.</summary>
    public struct BoneRotation
    {
        public string Name;
        /// <summary>UnityEngine.HumanBodyBones value, or -1 for a name this bridge does not know (ignore it).</summary>
        public int Id;
        /// <summary>Local rotation relative to the T-pose, in the parent's frame.</summary>
        public Quat Rotation;
    }

    /// <summary>One entry of a frame's "blendshapes" object.</summary>
    public struct NamedWeight
    {
        public string Name;
        /// <summary>0..1.</summary>
        public float Weight;

        public NamedWeight(string name, float weight) { Name = name; Weight = weight; }
    }

    /// <summary>The first message on every connection.</summary>
    public sealed class HelloMessage
    {
        public int Schema;
        /// <summary>"vtuber &lt;version&gt;".</summary>
        public string Engine;
        /// <summary>"unity" or "gltf": the frame the connection's rotations and positions are in.</summary>
        public string Coords;
        /// <summary>"profile" or "arkit": the blendshape vocabulary.</summary>
        public string Names;
        public string AvatarProfile;
        /// <summary>HumanBodyBones names the engine sends in frames, parents before children.</summary>
        public string[] Bones;
    }

    /// <summary>One engine frame.</summary>
    public sealed class FrameMessage
    {
        public int Schema;
        /// <summary>Source frame index; gaps mean dropped frames.</summary>
        public long Index;
        /// <summary>Capture time of the source frame, seconds (not wall-clock).</summary>
        public double T;
        /// <summary>Wall-clock Unix time in seconds when the engine published the frame.</summary>
        public double Sent;
        /// <summary>"unity" or "gltf" from the connection's hello; null when parsed without a session.</summary>
        public string Coords;

        /// <summary>The "tracking" object in wire order; always contains "face".</summary>
        public readonly List<KeyValuePair<string, bool>> Tracking = new List<KeyValuePair<string, bool>>();
        /// <summary>tracking.face.</summary>
        public bool FaceTracked;

        /// <summary>Null when the head has never been tracked.</summary>
        public HeadPose Head;

        public Quat RootRotation = Quat.Identity;
        /// <summary>Metres; (0, 0, 0) when unknown.</summary>
        public Vec3 RootPosition;

        /// <summary>The "bones" object in wire order, unknown names included (Id = -1).</summary>
        public readonly List<BoneRotation> Bones = new List<BoneRotation>();
        /// <summary>Rotations indexed by HumanBodyBones value; valid where HasBone is true.</summary>
        public readonly Quat[] BoneRotations = new Quat[HumanBones.Count];
        public readonly bool[] HasBone = new bool[HumanBones.Count];

        /// <summary>The "blendshapes" object in wire order.</summary>
        public readonly List<NamedWeight> Blendshapes = new List<NamedWeight>();

        /// <summary>tracking[key], false when the key is absent.</summary>
        public bool IsTracked(string key)
        {
            foreach (var kv in Tracking) if (kv.Key == key) return kv.Value;
            return false;
        }

        public bool TryGetBone(string name, out Quat rotation)
        {
            int id = HumanBones.IdOf(name);
            if (id >= 0 && HasBone[id]) { rotation = BoneRotations[id]; return true; }
            foreach (var b in Bones) if (b.Name == name) { rotation = b.Rotation; return true; }
            rotation = Quat.Identity;
            return false;
        }

        public bool TryGetBlendshape(string name, out float weight)
        {
            foreach (var b in Blendshapes) if (b.Name == name) { weight = b.Weight; return true; }
            weight = 0f;
            return false;
        }
    }

    /// <summary>A message whose "type" this bridge does not know (ignored, as the protocol requires).</summary>
    public sealed class UnknownMessage
    {
        public string Type;
    }
}
