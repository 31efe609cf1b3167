// The 55 humanoid bones of the wire protocol: Unity HumanBodyBones names and integer values, and
// the engine's parent tree (vtuber/retarget/skeleton.py PARENTS). Plain C#, no UnityEngine.
using System;
using System.Collections.Generic;

namespace Vtuber.Bridge.Core
{
    public static class HumanBones
    {
        /// <summary>Number of bones (UnityEngine.HumanBodyBones.LastBone).</summary>
        public const int Count = 55;

        /// <summary>Names indexed by their UnityEngine.HumanBodyBones integer value (Hips = 0 ... UpperChest = 54).</summary>
        public static readonly string[] Names =
        {
            "Hips", "LeftUpperLeg", "RightUpperLeg", "LeftLowerLeg", "RightLowerLeg", "LeftFoot", "RightFoot",
            "Spine", "Chest", "Neck", "Head", "LeftShoulder", "RightShoulder", "LeftUpperArm", "RightUpperArm",
            "LeftLowerArm", "RightLowerArm", "LeftHand", "RightHand", "LeftToes", "RightToes", "LeftEye", "RightEye",
            "Jaw",
            "LeftThumbProximal", "LeftThumbIntermediate", "LeftThumbDistal",
            "LeftIndexProximal", "LeftIndexIntermediate", "LeftIndexDistal",
            "LeftMiddleProximal", "LeftMiddleIntermediate", "LeftMiddleDistal",
            "LeftRingProximal", "LeftRingIntermediate", "LeftRingDistal",
            "LeftLittleProximal", "LeftLittleIntermediate", "LeftLittleDistal",
            "RightThumbProximal", "RightThumbIntermediate", "RightThumbDistal",
            "RightIndexProximal", "RightIndexIntermediate", "RightIndexDistal",
            "RightMiddleProximal", "RightMiddleIntermediate", "RightMiddleDistal",
            "RightRingProximal", "RightRingIntermediate", "RightRingDistal",
            "RightLittleProximal", "RightLittleIntermediate", "RightLittleDistal",
            "UpperChest",
        };

        /// <summary>Parent bone id of each bone in the engine's skeleton (-1 for Hips). The parent of a
        /// bone is always one of the 55, even where a model lacks it (e.g. UpperChest).</summary>
        public static readonly int[] Parents;

        /// <summary>Bone ids with every parent before its children (the order to compose rotations in).</summary>
        public static readonly int[] ParentFirstOrder;

        static readonly Dictionary<string, int> ByName;

        static HumanBones()
        {
            ByName = new Dictionary<string, int>(Count, StringComparer.Ordinal);
            for (int i = 0; i < Count; i++) ByName[Names[i]] = i;

            var parentNames = new Dictionary<string, string>
            {
                { "Spine", "Hips" }, { "Chest", "Spine" }, { "UpperChest", "Chest" }, { "Neck", "UpperChest" },
                { "Head", "Neck" }, { "Jaw", "Head" },
            };
            foreach (var side in new[] { "Left", "Right" })
            {
                parentNames[side + "Eye"] = "Head";
                parentNames[side + "Shoulder"] = "UpperChest";
                parentNames[side + "UpperArm"] = side + "Shoulder";
                parentNames[side + "LowerArm"] = side + "UpperArm";
                parentNames[side + "Hand"] = side + "LowerArm";
                parentNames[side + "UpperLeg"] = "Hips";
                parentNames[side + "LowerLeg"] = side + "UpperLeg";
                parentNames[side + "Foot"] = side + "LowerLeg";
                parentNames[side + "Toes"] = side + "Foot";
                foreach (var finger in new[] { "Thumb", "Index", "Middle", "Ring", "Little" })
                {
                    parentNames[side + finger + "Proximal"] = side + "Hand";
                    parentNames[side + finger + "Intermediate"] = side + finger + "Proximal";
                    parentNames[side + finger + "Distal"] = side + finger + "Intermediate";
                }
            }
            Parents = new int[Count];
            for (int i = 0; i < Count; i++)
            {
                string parent;
                Parents[i] = parentNames.TryGetValue(Names[i], out parent) ? ByName[parent] : -1;
            }

            // Depth-first from Hips; children in id order.
            var order = new List<int>(Count);
            var stack = new Stack<int>();
            stack.Push(0);
            while (stack.Count > 0)
            {
                int bone = stack.Pop();
                order.Add(bone);
                for (int child = Count - 1; child >= 0; child--)
                    if (Parents[child] == bone) stack.Push(child);
            }
            ParentFirstOrder = order.ToArray();
        }

        /// <summary>The HumanBodyBones integer value of a bone name, or -1 for a name that is not one of the 55.</summary>
        public static int IdOf(string name)
        {
            int id;
            return name != null && ByName.TryGetValue(name, out id) ? id : -1;
        }
    }
}
