// Declared signatures of the UnityEngine API the bridge's Unity-facing scripts use, as in Unity
// 2021.3+ (UnityEngine.CoreModule, AnimationModule). CI compiles Runtime/Unity/*.cs against this
// to catch typos and API misuse without Unity. Bodies are placeholders; nothing here runs.
// Keep it faithful: add a member only as Unity declares it (name, static-ness, types, property vs method).
using System;
using System.Collections;

namespace UnityEngine
{
    public class Object
    {
        public string name { get { throw null; } set { } }
        public static implicit operator bool(Object exists) { throw null; }
        public static bool operator ==(Object x, Object y) { throw null; }
        public static bool operator !=(Object x, Object y) { throw null; }
        public override bool Equals(object other) { throw null; }
        public override int GetHashCode() { throw null; }
    }

    public sealed class GameObject : Object
    {
        public Transform transform { get { throw null; } }
        public bool activeInHierarchy { get { throw null; } }
    }

    public class Component : Object
    {
        public Transform transform { get { throw null; } }
        public GameObject gameObject { get { throw null; } }
        public T GetComponent<T>() { throw null; }
        public T GetComponentInParent<T>() { throw null; }
        public T GetComponentInChildren<T>() { throw null; }
        public T[] GetComponentsInChildren<T>() { throw null; }
    }

    public class Behaviour : Component
    {
        public bool enabled { get { throw null; } set { } }
        public bool isActiveAndEnabled { get { throw null; } }
    }

    public class MonoBehaviour : Behaviour
    {
    }

    public class Transform : Component, IEnumerable
    {
        protected Transform() { }
        public Vector3 position { get { throw null; } set { } }
        public Vector3 localPosition { get { throw null; } set { } }
        public Quaternion rotation { get { throw null; } set { } }
        public Quaternion localRotation { get { throw null; } set { } }
        public Transform parent { get { throw null; } set { } }
        public IEnumerator GetEnumerator() { throw null; }
    }

    public class Animator : Behaviour
    {
        public bool isHuman { get { throw null; } }
        public Transform GetBoneTransform(HumanBodyBones humanBoneId) { throw null; }
    }

    public class Renderer : Component
    {
    }

    public class SkinnedMeshRenderer : Renderer
    {
        public Mesh sharedMesh { get { throw null; } set { } }
        public float GetBlendShapeWeight(int index) { throw null; }
        public void SetBlendShapeWeight(int index, float value) { }
    }

    public sealed class Mesh : Object
    {
        public int blendShapeCount { get { throw null; } }
        public int GetBlendShapeIndex(string blendShapeName) { throw null; }
        public string GetBlendShapeName(int shapeIndex) { throw null; }
    }

    public enum HumanBodyBones
    {
        Hips = 0, LeftUpperLeg = 1, RightUpperLeg = 2, LeftLowerLeg = 3, RightLowerLeg = 4, LeftFoot = 5, RightFoot = 6,
        Spine = 7, Chest = 8, Neck = 9, Head = 10, LeftShoulder = 11, RightShoulder = 12, LeftUpperArm = 13,
        RightUpperArm = 14, LeftLowerArm = 15, RightLowerArm = 16, LeftHand = 17, RightHand = 18, LeftToes = 19,
        RightToes = 20, LeftEye = 21, RightEye = 22, Jaw = 23,
        LeftThumbProximal = 24, LeftThumbIntermediate = 25, LeftThumbDistal = 26,
        LeftIndexProximal = 27, LeftIndexIntermediate = 28, LeftIndexDistal = 29,
        LeftMiddleProximal = 30, LeftMiddleIntermediate = 31, LeftMiddleDistal = 32,
        LeftRingProximal = 33, LeftRingIntermediate = 34, LeftRingDistal = 35,
        LeftLittleProximal = 36, LeftLittleIntermediate = 37, LeftLittleDistal = 38,
        RightThumbProximal = 39, RightThumbIntermediate = 40, RightThumbDistal = 41,
        RightIndexProximal = 42, RightIndexIntermediate = 43, RightIndexDistal = 44,
        RightMiddleProximal = 45, RightMiddleIntermediate = 46, RightMiddleDistal = 47,
        RightRingProximal = 48, RightRingIntermediate = 49, RightRingDistal = 50,
        RightLittleProximal = 51, RightLittleIntermediate = 52, RightLittleDistal = 53,
        UpperChest = 54, LastBone = 55,
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 zero { get { throw null; } }
        public static Vector3 Lerp(Vector3 a, Vector3 b, float t) { throw null; }
        public static Vector3 operator +(Vector3 a, Vector3 b) { throw null; }
        public static Vector3 operator -(Vector3 a, Vector3 b) { throw null; }
        public static Vector3 operator *(Vector3 a, float d) { throw null; }
    }

    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { throw null; } }
        public Vector3 eulerAngles { get { throw null; } set { } }
        public static Quaternion Inverse(Quaternion rotation) { throw null; }
        public static Quaternion Slerp(Quaternion a, Quaternion b, float t) { throw null; }
        public static Quaternion Euler(float x, float y, float z) { throw null; }
        public static Quaternion operator *(Quaternion lhs, Quaternion rhs) { throw null; }
        public static Vector3 operator *(Quaternion rotation, Vector3 point) { throw null; }
    }

    public struct Mathf
    {
        public static float Exp(float power) { throw null; }
        public static float Clamp01(float value) { throw null; }
        public static float Lerp(float a, float b, float t) { throw null; }
        public static float Max(float a, float b) { throw null; }
        public static float Min(float a, float b) { throw null; }
    }

    public class Time
    {
        public static float deltaTime { get { throw null; } }
        public static float unscaledDeltaTime { get { throw null; } }
        public static float time { get { throw null; } }
    }

    public class Debug
    {
        public static void Log(object message) { }
        public static void Log(object message, Object context) { }
        public static void LogWarning(object message) { }
        public static void LogWarning(object message, Object context) { }
        public static void LogError(object message) { }
        public static void LogError(object message, Object context) { }
        public static void LogException(Exception exception) { }
        public static void LogException(Exception exception, Object context) { }
    }

    public abstract class PropertyAttribute : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public class TooltipAttribute : PropertyAttribute
    {
        public readonly string tooltip;
        public TooltipAttribute(string tooltip) { this.tooltip = tooltip; }
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public sealed class RangeAttribute : PropertyAttribute
    {
        public readonly float min, max;
        public RangeAttribute(float min, float max) { this.min = min; this.max = max; }
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public sealed class MinAttribute : PropertyAttribute
    {
        public readonly float min;
        public MinAttribute(float min) { this.min = min; }
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = true)]
    public class HeaderAttribute : PropertyAttribute
    {
        public readonly string header;
        public HeaderAttribute(string header) { this.header = header; }
    }

    [AttributeUsage(AttributeTargets.Field, Inherited = true, AllowMultiple = false)]
    public sealed class SerializeField : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
    public sealed class AddComponentMenu : Attribute
    {
        public AddComponentMenu(string menuName) { }
        public AddComponentMenu(string menuName, int order) { }
    }

    [AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
    public class DefaultExecutionOrder : Attribute
    {
        public DefaultExecutionOrder(int order) { }
    }

    [AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
    public sealed class DisallowMultipleComponent : Attribute
    {
    }
}
