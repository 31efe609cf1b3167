#if VTUBER_UNIVRM0
using System.Collections.Generic;
using UnityEngine;
using VRM;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>
    /// Expressions through UniVRM 0.x's VRMBlendShapeProxy: AccumulateValue per name, then one Apply.
    /// Preset names of either VRM version map to BlendShapePreset ("A" or "aa" -> A, "Blink_L" or
    /// "blinkLeft" -> Blink_L, "happy" -> Joy); other names are custom clips (BlendShapeKey.CreateUnknown,
    /// e.g. Perfect Sync "EyeBlinkLeft"). Compiled when VTUBER_UNIVRM0 is defined (automatic when
    /// com.vrmc.univrm is installed through the Package Manager).
    /// </summary>
    [AddComponentMenu("vtuber/VRM 0.x BlendShapeProxy Adapter")]
    public sealed class VrmBlendShapeProxyAdapter : VtuberExpressionAdapter
    {
        [Tooltip("The model's VRMBlendShapeProxy (on the VRM root).")]
        public VRMBlendShapeProxy proxy;

        readonly Dictionary<string, BlendShapeKey> _keys = new Dictionary<string, BlendShapeKey>();

        void Reset()
        {
            proxy = GetComponentInParent<VRMBlendShapeProxy>();
        }

        public override void ApplyWeights(IList<NamedWeight> weights)
        {
            if (proxy == null) return;
            for (int i = 0; i < weights.Count; i++)
            {
                BlendShapeKey key;
                if (!_keys.TryGetValue(weights[i].Name, out key))
                {
                    key = KeyFor(weights[i].Name);
                    _keys[weights[i].Name] = key;
                }
                proxy.AccumulateValue(key, weights[i].Weight);
            }
            proxy.Apply();
        }

        /// <summary>The BlendShapeKey for a wire expression name.</summary>
        public static BlendShapeKey KeyFor(string name)
        {
            BlendShapePreset preset;
            return TryPreset(name, out preset) ? BlendShapeKey.CreateFromPreset(preset) : BlendShapeKey.CreateUnknown(name);
        }

        /// <summary>The BlendShapePreset for a preset name of VRM 0.x or 1.0; false for custom names.</summary>
        public static bool TryPreset(string name, out BlendShapePreset preset)
        {
            switch (ExpressionNames.Vrm0Preset(name))
            {
                case "Neutral": preset = BlendShapePreset.Neutral; return true;
                case "A": preset = BlendShapePreset.A; return true;
                case "I": preset = BlendShapePreset.I; return true;
                case "U": preset = BlendShapePreset.U; return true;
                case "E": preset = BlendShapePreset.E; return true;
                case "O": preset = BlendShapePreset.O; return true;
                case "Blink": preset = BlendShapePreset.Blink; return true;
                case "Blink_L": preset = BlendShapePreset.Blink_L; return true;
                case "Blink_R": preset = BlendShapePreset.Blink_R; return true;
                case "Joy": preset = BlendShapePreset.Joy; return true;
                case "Angry": preset = BlendShapePreset.Angry; return true;
                case "Sorrow": preset = BlendShapePreset.Sorrow; return true;
                case "Fun": preset = BlendShapePreset.Fun; return true;
                case "LookUp": preset = BlendShapePreset.LookUp; return true;
                case "LookDown": preset = BlendShapePreset.LookDown; return true;
                case "LookLeft": preset = BlendShapePreset.LookLeft; return true;
                case "LookRight": preset = BlendShapePreset.LookRight; return true;
                default: preset = BlendShapePreset.Unknown; return false;
            }
        }
    }
}
#endif
