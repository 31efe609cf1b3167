// Declared signatures of the UniVRM 1.0 API the VRM 1.0 adapter and driver use (package
// com.vrmc.vrm, assembly "VRM10", namespace UniVRM10; Assets/VRM10/Runtime/Components/...
// Vrm10Instance, Vrm10Runtime, Vrm10RuntimeExpression, Vrm10RuntimeControlRig, ExpressionKey).
using System;
using System.Collections.Generic;
using UnityEngine;

namespace UniVRM10
{
    public enum ExpressionPreset
    {
        custom,
        happy, angry, sad, relaxed, surprised,
        aa, ih, ou, ee, oh,
        blink, blinkLeft, blinkRight,
        lookUp, lookDown, lookLeft, lookRight,
        neutral,
    }

    [Serializable]
    public readonly struct ExpressionKey : IEquatable<ExpressionKey>, IComparable<ExpressionKey>
    {
        public readonly ExpressionPreset Preset;
        public readonly string Name;
        public ExpressionKey(ExpressionPreset preset, string customName = null) { Preset = preset; Name = customName; }
        public static ExpressionKey CreateCustom(String key) { throw null; }
        public static ExpressionKey CreateFromPreset(ExpressionPreset preset) { throw null; }
        public bool Equals(ExpressionKey other) { throw null; }
        public int CompareTo(ExpressionKey other) { throw null; }
    }

    public sealed class Vrm10RuntimeExpression
    {
        Vrm10RuntimeExpression() { }
        public IReadOnlyList<ExpressionKey> ExpressionKeys { get { throw null; } }
        public IDictionary<ExpressionKey, float> GetWeights() { throw null; }
        public float GetWeight(ExpressionKey expressionKey) { throw null; }
        public void SetWeights(IEnumerable<KeyValuePair<ExpressionKey, float>> weights) { }
        public void SetWeight(ExpressionKey expressionKey, float weight) { }
    }

    public sealed class Vrm10RuntimeControlRig
    {
        Vrm10RuntimeControlRig() { }
        public Transform GetBoneTransform(HumanBodyBones bone) { throw null; }
    }

    public class Vrm10Runtime : IDisposable
    {
        Vrm10Runtime() { }
        /// <summary>Control Rig may be null. Control Rig is generated at loading runtime only.</summary>
        public Vrm10RuntimeControlRig ControlRig { get { throw null; } }
        public Vrm10RuntimeExpression Expression { get { throw null; } }
        public void Dispose() { }
    }

    [DisallowMultipleComponent]
    public class Vrm10Instance : MonoBehaviour
    {
        public Vrm10Runtime Runtime { get { throw null; } }
    }
}
