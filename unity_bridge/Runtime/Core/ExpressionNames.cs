// Expression-name vocabularies: the engine's avatar profiles send VRM 0.x BlendShapeProxy preset
// names (vrm0: "Blink_L", "A"), VRM 1.0 expression presets (vrm1: "blinkLeft", "aa") or custom
// names (perfect_sync: "EyeBlinkLeft"). The UniVRM adapters use these tables so either preset
// vocabulary drives either UniVRM version. Plain C#, no UnityEngine, no UniVRM.
using System;
using System.Collections.Generic;

namespace Vtuber.Bridge.Core
{
    public static class ExpressionNames
    {
        /// <summary>VRM 0.x BlendShapePreset names (except Unknown) and the VRM 1.0 ExpressionPreset each corresponds to.</summary>
        static readonly string[,] Pairs =
        {
            { "Neutral", "neutral" },
            { "A", "aa" }, { "I", "ih" }, { "U", "ou" }, { "E", "ee" }, { "O", "oh" },
            { "Blink", "blink" }, { "Blink_L", "blinkLeft" }, { "Blink_R", "blinkRight" },
            { "Joy", "happy" }, { "Angry", "angry" }, { "Sorrow", "sad" }, { "Fun", "relaxed" },
            { "LookUp", "lookUp" }, { "LookDown", "lookDown" }, { "LookLeft", "lookLeft" }, { "LookRight", "lookRight" },
        };

        /// <summary>VRM 1.0 presets without a VRM 0.x preset (sent to a VRM 0.x model as a custom clip name).</summary>
        const string Vrm1OnlySurprised = "surprised";

        static readonly Dictionary<string, string> ToVrm0 = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        static readonly Dictionary<string, string> ToVrm1 = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        static ExpressionNames()
        {
            for (int i = 0; i < Pairs.GetLength(0); i++)
            {
                string vrm0 = Pairs[i, 0], vrm1 = Pairs[i, 1];
                ToVrm0[vrm0] = vrm0;
                ToVrm1[vrm1] = vrm1;
                if (!ToVrm0.ContainsKey(vrm1)) ToVrm0[vrm1] = vrm0;
                if (!ToVrm1.ContainsKey(vrm0)) ToVrm1[vrm0] = vrm1;
            }
            ToVrm1[Vrm1OnlySurprised] = Vrm1OnlySurprised;
        }

        /// <summary>The VRM 0.x BlendShapePreset name for a preset name of either vocabulary
        /// ("A", "aa", "blinkLeft" -> "Blink_L"), or null for a custom name.</summary>
        public static string Vrm0Preset(string name)
        {
            string preset;
            return name != null && ToVrm0.TryGetValue(name, out preset) ? preset : null;
        }

        /// <summary>The VRM 1.0 ExpressionPreset name for a preset name of either vocabulary
        /// ("aa", "A", "Blink_L" -> "blinkLeft", "Joy" -> "happy"), or null for a custom name.</summary>
        public static string Vrm1Preset(string name)
        {
            string preset;
            return name != null && ToVrm1.TryGetValue(name, out preset) ? preset : null;
        }
    }
}
