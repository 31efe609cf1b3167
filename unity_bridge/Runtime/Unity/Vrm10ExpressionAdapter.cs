#if VTUBER_UNIVRM1
using System.Collections.Generic;
using UnityEngine;
using UniVRM10;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>
    /// Expressions through UniVRM 1.0: Vrm10Instance.Runtime.Expression.SetWeights (one call per
    /// frame; SetWeight per key would re-apply the whole face each time). Preset names of either VRM
    /// version map to ExpressionPreset ("aa" or "A" -> aa, "blinkLeft" or "Blink_L" -> blinkLeft,
    /// "Joy" -> happy); other names are custom expressions (ExpressionKey.CreateCustom). Compiled
    /// when VTUBER_UNIVRM1 is defined (automatic when com.vrmc.vrm is installed through the Package Manager).
    /// </summary>
    [AddComponentMenu("vtuber/VRM 1.0 Expression Adapter")]
    public sealed class Vrm10ExpressionAdapter : VtuberExpressionAdapter
    {
        [Tooltip("The model's Vrm10Instance (on the VRM root).")]
        public Vrm10Instance instance;

        readonly Dictionary<string, ExpressionKey> _keys = new Dictionary<string, ExpressionKey>();
        readonly List<KeyValuePair<ExpressionKey, float>> _buffer = new List<KeyValuePair<ExpressionKey, float>>();

        void Reset()
        {
            instance = GetComponentInParent<Vrm10Instance>();
        }

        public override void ApplyWeights(IList<NamedWeight> weights)
        {
            if (instance == null) return;
            _buffer.Clear();
            for (int i = 0; i < weights.Count; i++)
            {
                ExpressionKey key;
                if (!_keys.TryGetValue(weights[i].Name, out key))
                {
                    key = KeyFor(weights[i].Name);
                    _keys[weights[i].Name] = key;
                }
                _buffer.Add(new KeyValuePair<ExpressionKey, float>(key, weights[i].Weight));
            }
            instance.Runtime.Expression.SetWeights(_buffer);
        }

        /// <summary>The ExpressionKey for a wire expression name.</summary>
        public static ExpressionKey KeyFor(string name)
        {
            ExpressionPreset preset;
            return TryPreset(name, out preset) ? ExpressionKey.CreateFromPreset(preset) : ExpressionKey.CreateCustom(name);
        }

        /// <summary>The ExpressionPreset for a preset name of VRM 1.0 or 0.x; false for custom names.</summary>
        public static bool TryPreset(string name, out ExpressionPreset preset)
        {
            switch (ExpressionNames.Vrm1Preset(name))
            {
                case "happy": preset = ExpressionPreset.happy; return true;
                case "angry": preset = ExpressionPreset.angry; return true;
                case "sad": preset = ExpressionPreset.sad; return true;
                case "relaxed": preset = ExpressionPreset.relaxed; return true;
                case "surprised": preset = ExpressionPreset.surprised; return true;
                case "aa": preset = ExpressionPreset.aa; return true;
                case "ih": preset = ExpressionPreset.ih; return true;
                case "ou": preset = ExpressionPreset.ou; return true;
                case "ee": preset = ExpressionPreset.ee; return true;
                case "oh": preset = ExpressionPreset.oh; return true;
                case "blink": preset = ExpressionPreset.blink; return true;
                case "blinkLeft": preset = ExpressionPreset.blinkLeft; return true;
                case "blinkRight": preset = ExpressionPreset.blinkRight; return true;
                case "lookUp": preset = ExpressionPreset.lookUp; return true;
                case "lookDown": preset = ExpressionPreset.lookDown; return true;
                case "lookLeft": preset = ExpressionPreset.lookLeft; return true;
                case "lookRight": preset = ExpressionPreset.lookRight; return true;
                case "neutral": preset = ExpressionPreset.neutral; return true;
                default: preset = ExpressionPreset.custom; return false;
            }
        }
    }
}
#endif
