using System.Collections.Generic;
using UnityEngine;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>
    /// Applies expression weights to an avatar. <see cref="VtuberAvatarDriver"/> calls
    /// <see cref="ApplyWeights"/> once per frame (LateUpdate) with every expression's smoothed
    /// weight. Implementations: <see cref="SkinnedMeshBlendShapeAdapter"/> (any model, names =
    /// mesh blendshape names), VrmBlendShapeProxyAdapter (UniVRM 0.x, VTUBER_UNIVRM0) and
    /// Vrm10ExpressionAdapter (UniVRM 1.0, VTUBER_UNIVRM1). Subclass it for your own rig.
    /// </summary>
    public abstract class VtuberExpressionAdapter : MonoBehaviour
    {
        /// <param name="weights">name -> weight in [0, 1]; names are the connection's vocabulary.</param>
        public abstract void ApplyWeights(IList<NamedWeight> weights);
    }
}
