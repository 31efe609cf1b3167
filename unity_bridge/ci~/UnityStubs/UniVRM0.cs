// Declared signatures of the UniVRM 0.x API the VRM 0.x adapter uses (package com.vrmc.univrm,
// assembly "VRM", namespace VRM; Assets/VRM/Runtime/BlendShape/VRMBlendShapeProxy.cs and
// Assets/VRM/Runtime/Format/... BlendShapeKey / BlendShapePreset, UniVRM v0.6x and later).
using System;
using System.Collections.Generic;
using UnityEngine;

namespace VRM
{
    public enum BlendShapePreset
    {
        Unknown,
        Neutral,
        A, I, U, E, O,
        Blink,
        Joy, Angry, Sorrow, Fun,
        LookUp, LookDown, LookLeft, LookRight,
        Blink_L, Blink_R,
    }

    [Serializable]
    public readonly struct BlendShapeKey : IEquatable<BlendShapeKey>, IComparable<BlendShapeKey>
    {
        public string Name { get { throw null; } }
        public BlendShapePreset Preset { get { throw null; } }
        public static BlendShapeKey CreateFromPreset(BlendShapePreset preset) { throw null; }
        public static BlendShapeKey CreateUnknown(string name) { throw null; }
        public bool Equals(BlendShapeKey other) { throw null; }
        public int CompareTo(BlendShapeKey other) { throw null; }
    }

    [DisallowMultipleComponent]
    public class VRMBlendShapeProxy : MonoBehaviour
    {
        public void ImmediatelySetValue(BlendShapeKey key, float value) { }
        public void AccumulateValue(BlendShapeKey key, float value) { }
        public float GetValue(BlendShapeKey key) { throw null; }
        public IEnumerable<KeyValuePair<BlendShapeKey, float>> GetValues() { throw null; }
        public void SetValues(IEnumerable<KeyValuePair<BlendShapeKey, float>> values) { }
        public void Apply() { }
    }
}
