using System;
using System.Collections.Generic;
using UnityEngine;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    /// <summary>
    /// Poses a humanoid avatar (any Unity Humanoid rig, VRM 0.x or 1.0) from the receiver's newest
    /// frame: bone rotations through Animator.GetBoneTransform relative to the rest (T-)pose
    /// captured at Start, smoothed toward the newest frame, plus expressions through an adapter.
    /// </summary>
    /// <remarks>
    /// The wire rotations are local rotations of a normalised humanoid (every rest rotation the
    /// identity, axes of the avatar root). For a bone b with parent p (the engine's tree, so a bone
    /// the model lacks, e.g. UpperChest, still contributes):
    /// N[b] = N[p] * q[b] and bone.rotation = avatarRoot.rotation * N[b] * rest[b], where rest[b] is
    /// the bone's rotation in avatar-root space captured in the rest pose.
    /// </remarks>
    [AddComponentMenu("vtuber/Vtuber Avatar Driver")]
    [DisallowMultipleComponent]
    public sealed class VtuberAvatarDriver : MonoBehaviour
    {
        [Tooltip("The receiver to read frames from.")]
        public VtuberReceiver receiver;

        [Tooltip("Humanoid Animator of the avatar (Avatar Definition: Humanoid). Leave its Controller empty.")]
        public Animator animator;

#if VTUBER_UNIVRM1
        [Tooltip("Optional, UniVRM 1.0: a runtime-loaded VRM 1.0 with a control rig is driven through the control rig.")]
        public UniVRM10.Vrm10Instance vrm10Instance;
#endif

        [Tooltip("Apply bone rotations.")]
        public bool applyBones = true;

        [Tooltip("Apply frame.root.rotation to the Animator's transform, relative to its starting rotation.")]
        public bool applyRootRotation = false;

        [Tooltip("Apply frame.root.position (metres) to the Animator's transform, relative to its starting position.")]
        public bool applyRootPosition = false;

        [Tooltip("How fast bones follow the newest frame, 1/s (exponential). 0 = snap to each frame.")]
        [Range(0f, 60f)]
        public float boneSmoothing = 20f;

        [Tooltip("How fast expressions follow the newest frame, 1/s (exponential). 0 = snap to each frame.")]
        [Range(0f, 60f)]
        public float expressionSmoothing = 30f;

        [Tooltip("Applies expression weights: VrmBlendShapeProxyAdapter (UniVRM 0.x), Vrm10ExpressionAdapter (UniVRM 1.0), SkinnedMeshBlendShapeAdapter, or your own.")]
        public VtuberExpressionAdapter expressionAdapter;

        [Tooltip("Capture the rest pose in Start. The avatar must be in its T-pose then (VRM models are on load).")]
        public bool captureRestPoseOnStart = true;

        readonly Transform[] _bones = new Transform[HumanBones.Count];
        readonly Quaternion[] _rest = new Quaternion[HumanBones.Count];
        readonly Quaternion[] _current = new Quaternion[HumanBones.Count];
        readonly Quaternion[] _target = new Quaternion[HumanBones.Count];
        // Bones some frame has carried. The others (never tracked: the arms in face mode, a hand not
        // yet seen) are left as the avatar has them (its rest pose or its Animator's animation)
        // instead of being forced into the T-pose the protocol's identity means.
        readonly bool[] _seen = new bool[HumanBones.Count];
        readonly Quaternion[] _normalised = new Quaternion[HumanBones.Count];
        Transform _root;
        Quaternion _rootRestRotation = Quaternion.identity, _rootRotation = Quaternion.identity, _rootRotationTarget = Quaternion.identity;
        Vector3 _rootRestPosition, _rootPosition, _rootPositionTarget;
        bool _restCaptured;
        FrameMessage _applied;

        readonly List<string> _exprNames = new List<string>();
        readonly List<float> _exprCurrent = new List<float>();
        readonly List<float> _exprTarget = new List<float>();
        readonly Dictionary<string, int> _exprIndex = new Dictionary<string, int>();
        readonly List<NamedWeight> _exprBuffer = new List<NamedWeight>();

        /// <summary>The frame the driver is moving toward (the receiver's newest), null before the first.</summary>
        public FrameMessage LatestFrame { get { return _applied; } }

        /// <summary>Raised after a new frame became the driver's target (main thread, LateUpdate).</summary>
        public event Action<FrameMessage> FrameApplied;

        public bool RestPoseCaptured { get { return _restCaptured; } }

        /// <summary>The smoothed local rotation (relative to the T-pose, Unity frame) the driver applies to a bone.</summary>
        public Quaternion GetSmoothedLocalRotation(HumanBodyBones bone)
        {
            int id = (int)bone;
            return id >= 0 && id < HumanBones.Count ? _current[id] : Quaternion.identity;
        }

        /// <summary>The smoothed weight of an expression (0 when unknown).</summary>
        public float GetExpressionWeight(string name)
        {
            int i;
            return name != null && _exprIndex.TryGetValue(name, out i) ? _exprCurrent[i] : 0f;
        }

        void Reset()
        {
            animator = GetComponent<Animator>();
            receiver = GetComponent<VtuberReceiver>();
            expressionAdapter = GetComponent<VtuberExpressionAdapter>();
        }

        void Start()
        {
            if (captureRestPoseOnStart) CaptureRestPose();
        }

        /// <summary>Record the current pose as the rest pose. Call with the avatar in its T-pose.</summary>
        public void CaptureRestPose()
        {
            if (animator == null) animator = GetComponent<Animator>();
            if (animator == null || !animator.isHuman)
            {
                Debug.LogError("VtuberAvatarDriver needs a humanoid Animator (model import settings: Rig > Animation Type: Humanoid).", this);
                enabled = false;
                return;
            }
            _root = animator.transform;
            Quaternion toAvatar = Quaternion.Inverse(_root.rotation);
            int found = 0;
            for (int id = 0; id < HumanBones.Count; id++)
            {
                var bone = ResolveBone((HumanBodyBones)id);
                _bones[id] = bone;
                _rest[id] = bone != null ? toAvatar * bone.rotation : Quaternion.identity;
                _current[id] = Quaternion.identity;
                _target[id] = Quaternion.identity;
                _seen[id] = false;
                if (bone != null) found++;
            }
            _rootRestRotation = _root.localRotation;
            _rootRestPosition = _root.localPosition;
            _rootRotation = _rootRotationTarget = Quaternion.identity;
            _rootPosition = _rootPositionTarget = Vector3.zero;
            _restCaptured = found > 0;
            if (!_restCaptured) Debug.LogError("VtuberAvatarDriver: the Animator maps no humanoid bones.", this);
        }

        Transform ResolveBone(HumanBodyBones bone)
        {
#if VTUBER_UNIVRM1
            if (vrm10Instance != null)
            {
                var rig = vrm10Instance.Runtime.ControlRig;
                if (rig != null) return rig.GetBoneTransform(bone);
            }
#endif
            return animator.GetBoneTransform(bone);
        }

        void LateUpdate()
        {
            if (!_restCaptured) return;
            var frame = receiver != null ? receiver.LatestFrame : null;
            if (frame != null && frame != _applied)
            {
                SetTargets(frame);
                _applied = frame;
                if (FrameApplied != null)
                {
                    try { FrameApplied(frame); }
                    catch (Exception e) { Debug.LogException(e, this); }
                }
            }
            if (_applied == null) return;

            float dt = Time.deltaTime;
            float tBones = boneSmoothing <= 0f ? 1f : 1f - Mathf.Exp(-boneSmoothing * dt);
            float tExpr = expressionSmoothing <= 0f ? 1f : 1f - Mathf.Exp(-expressionSmoothing * dt);

            if (applyRootRotation)
            {
                _rootRotation = Quaternion.Slerp(_rootRotation, _rootRotationTarget, tBones);
                _root.localRotation = _rootRestRotation * _rootRotation;
            }
            if (applyRootPosition)
            {
                _rootPosition = Vector3.Lerp(_rootPosition, _rootPositionTarget, tBones);
                _root.localPosition = _rootRestPosition + _rootRestRotation * _rootPosition;
            }

            if (applyBones)
            {
                Quaternion avatar = _root.rotation;
                int[] order = HumanBones.ParentFirstOrder;
                for (int i = 0; i < order.Length; i++)
                {
                    int id = order[i];
                    int parent = HumanBones.Parents[id];
                    if (!_seen[id])
                    {
                        // not driven: read its pose back (bone.rotation = avatar * N * rest) so the
                        // driven bones below it are placed under where it really is
                        _normalised[id] = _bones[id] != null
                            ? Quaternion.Inverse(avatar) * _bones[id].rotation * Quaternion.Inverse(_rest[id])
                            : (parent < 0 ? Quaternion.identity : _normalised[parent]);
                        continue;
                    }
                    _current[id] = Quaternion.Slerp(_current[id], _target[id], tBones);
                    _normalised[id] = parent < 0 ? _current[id] : _normalised[parent] * _current[id];
                    if (_bones[id] != null) _bones[id].rotation = avatar * _normalised[id] * _rest[id];
                }
            }

            // Smoothed with or without an adapter: GetExpressionWeight reads _exprCurrent.
            for (int i = 0; i < _exprNames.Count; i++)
                _exprCurrent[i] = Mathf.Lerp(_exprCurrent[i], _exprTarget[i], tExpr);
            if (expressionAdapter != null)
            {
                _exprBuffer.Clear();
                for (int i = 0; i < _exprNames.Count; i++) _exprBuffer.Add(new NamedWeight(_exprNames[i], _exprCurrent[i]));
                expressionAdapter.ApplyWeights(_exprBuffer);
            }
        }

        void SetTargets(FrameMessage frame)
        {
            // A bone missing from a frame keeps its last target (protocol: keep last or rest rotation).
            for (int id = 0; id < HumanBones.Count; id++)
                if (frame.HasBone[id])
                {
                    _target[id] = frame.BoneRotations[id].Normalized().ToUnity();
                    if (!_seen[id])
                    {
                        _seen[id] = true;
                        _current[id] = _target[id]; // first sight: start there, not a slerp out of the T-pose
                    }
                }
            _rootRotationTarget = frame.RootRotation.Normalized().ToUnity();
            _rootPositionTarget = frame.RootPosition.ToUnity();

            // Every frame carries the whole set of expressions: one it no longer sends eases to 0.
            for (int i = 0; i < _exprTarget.Count; i++) _exprTarget[i] = 0f;
            foreach (var b in frame.Blendshapes)
            {
                int i;
                if (!_exprIndex.TryGetValue(b.Name, out i))
                {
                    i = _exprNames.Count;
                    _exprIndex[b.Name] = i;
                    _exprNames.Add(b.Name);
                    _exprCurrent.Add(0f);
                    _exprTarget.Add(0f);
                }
                _exprTarget[i] = Mathf.Clamp01(b.Weight);
            }
        }
    }
}
