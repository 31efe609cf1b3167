using UnityEngine;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>Core structs to Unity types. Component-for-component: frames requested with
    /// ?coords=unity are already in Unity's frame, so no sign changes here.</summary>
    public static class UnityConversions
    {
        public static Quaternion ToUnity(this Quat q) { return new Quaternion(q.x, q.y, q.z, q.w); }

        public static Vector3 ToUnity(this Vec3 v) { return new Vector3(v.x, v.y, v.z); }

        public static HumanBodyBones ToHumanBodyBones(this BoneRotation bone) { return (HumanBodyBones)bone.Id; }
    }
}
