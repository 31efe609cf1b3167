using System.Collections.Generic;
using UnityEngine;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>
    /// Expressions straight onto mesh blendshapes of the same name (weight x 100), e.g. ARKit /
    /// Perfect Sync names with the receiver set to Arkit. Needs no UniVRM. Names without a
    /// matching blendshape are ignored.
    /// </summary>
    [AddComponentMenu("vtuber/Skinned Mesh BlendShape Adapter")]
    public sealed class SkinnedMeshBlendShapeAdapter : VtuberExpressionAdapter
    {
        [Tooltip("Meshes whose blendshapes are driven; every matching blendshape on each is set.")]
        public SkinnedMeshRenderer[] renderers = new SkinnedMeshRenderer[0];

        [Tooltip("Unity blendshape weights usually run 0..100.")]
        public float weightScale = 100f;

        readonly Dictionary<string, int[]> _indices = new Dictionary<string, int[]>();

        void Reset()
        {
            renderers = GetComponentsInChildren<SkinnedMeshRenderer>();
        }

        /// <summary>Forget the name -> blendshape index cache (after swapping meshes).</summary>
        public void ClearCache() { _indices.Clear(); }

        public override void ApplyWeights(IList<NamedWeight> weights)
        {
            for (int i = 0; i < weights.Count; i++)
            {
                int[] perRenderer = IndicesOf(weights[i].Name);
                for (int r = 0; r < perRenderer.Length; r++)
                {
                    if (perRenderer[r] < 0 || renderers[r] == null) continue;
                    renderers[r].SetBlendShapeWeight(perRenderer[r], weights[i].Weight * weightScale);
                }
            }
        }

        int[] IndicesOf(string name)
        {
            int[] result;
            if (_indices.TryGetValue(name, out result) && result.Length == renderers.Length) return result;
            result = new int[renderers.Length];
            for (int r = 0; r < renderers.Length; r++)
            {
                var mesh = renderers[r] != null ? renderers[r].sharedMesh : null;
                result[r] = mesh != null ? mesh.GetBlendShapeIndex(name) : -1;
            }
            _indices[name] = result;
            return result;
        }
    }
}
