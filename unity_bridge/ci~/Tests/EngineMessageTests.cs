// Compares the bridge's parse of every message the Python engine emitted in this CI run
// (unity_bridge/ci~/emit_messages.py) with the values in the expected.json sidecar.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge.Tests
{
    public static class EngineMessageTests
    {
        // Quaternion and position components are floats on the Unity side: half an ulp near 1.
        const double FloatTolerance = 2e-7;
        const double AngleTolerance = 2e-6;

        public static void Run(Runner runner, string dir)
        {
            var sidecar = JsonReader.Parse(File.ReadAllText(Path.Combine(dir, "expected.json"), Encoding.UTF8));

            runner.Run("engine schema version equals the bridge's", () =>
            {
                long engine = sidecar["schema_version"].AsLong;
                Assert.True(engine == Protocol.SchemaVersion,
                    "the engine (vtuber/encode/ws_json.py SCHEMA_VERSION) speaks schema " + engine +
                    " but the Unity bridge implements schema " + Protocol.SchemaVersion +
                    ": update unity_bridge (Runtime/Core/Protocol.cs, package.json) to the new wire format");
            });

            runner.Run("bone table matches vtuber/retarget/skeleton.py", () =>
            {
                var bones = sidecar["bones"].Items;
                Assert.Equal(HumanBones.Count, bones.Count, "number of bones");
                var parents = sidecar["parents"];
                foreach (var b in bones)
                {
                    string name = b.AsString;
                    int id = HumanBones.IdOf(name);
                    Assert.True(id >= 0, "bridge does not know bone " + name);
                    var parent = parents[name];
                    string expected = parent.IsNull ? null : parent.AsString;
                    int parentId = HumanBones.Parents[id];
                    Assert.Equal(expected, parentId < 0 ? null : HumanBones.Names[parentId], "parent of " + name);
                }
            });

            int count = 0;
            foreach (var c in sidecar["cases"].Items)
            {
                string name = c["name"].AsString;
                string text = File.ReadAllText(Path.Combine(dir, c["file"].AsString), Encoding.UTF8);
                var expected = c["expected"];
                count++;
                runner.Run("engine message " + name, () => CheckCase(text, expected));
            }
            runner.Run("engine emitted the messages", () => Assert.True(count >= 10, "only " + count + " cases"));
        }

        static void CheckCase(string text, JsonValue expected)
        {
            string type = expected["type"].AsString;
            if (type == "error")
            {
                var e = Assert.Throws<SchemaVersionException>(() => Protocol.Parse(text), "schema mismatch");
                Assert.Equal(expected["schema"].AsLong, e.ReceivedSchema, "received schema");
                Assert.Equal(expected["message_type"].AsString, e.MessageType, "message type");
                string wanted = "schema " + expected["schema"].AsLong;
                Assert.True(e.Message.Contains(wanted) && e.Message.Contains("implements schema " + Protocol.SchemaVersion),
                    "error message should name both schemas: " + e.Message);
                // A session reports the same error (the receiver shows it and retries slowly).
                Assert.Throws<SchemaVersionException>(() => new ProtocolSession("unity").Accept(text), "session");
                return;
            }

            object parsed = Protocol.Parse(text);
            if (type == "hello")
            {
                var hello = parsed as HelloMessage;
                Assert.True(hello != null, "expected a HelloMessage, got " + parsed);
                Assert.Equal((int)expected["schema"].AsLong, hello.Schema, "schema");
                Assert.Equal(expected["engine"].AsString, hello.Engine, "engine");
                Assert.Equal(expected["coords"].AsString, hello.Coords, "coords");
                Assert.Equal(expected["names"].AsString, hello.Names, "names");
                Assert.Equal(expected["avatar_profile"].AsString, hello.AvatarProfile, "avatar_profile");
                var bones = expected["bones"].Items;
                Assert.Equal(bones.Count, hello.Bones.Length, "bones count");
                for (int i = 0; i < bones.Count; i++) Assert.Equal(bones[i].AsString, hello.Bones[i], "bones[" + i + "]");
                return;
            }

            var frame = parsed as FrameMessage;
            Assert.True(frame != null, "expected a FrameMessage, got " + parsed);
            Assert.Equal(Protocol.SchemaVersion, frame.Schema, "schema");
            Assert.Equal(expected["index"].AsLong, frame.Index, "index");
            Assert.Equal(expected["t"].AsDouble, frame.T, "t");
            Assert.Equal(expected["sent"].AsDouble, frame.Sent, "sent");

            var tracking = expected["tracking"].Items;
            Assert.Equal(tracking.Count, frame.Tracking.Count, "tracking count");
            for (int i = 0; i < tracking.Count; i++)
            {
                string key = tracking[i].Items[0].AsString;
                bool value = tracking[i].Items[1].AsBool;
                Assert.Equal(key, frame.Tracking[i].Key, "tracking key " + i);
                Assert.Equal(value, frame.Tracking[i].Value, "tracking." + key);
                Assert.Equal(value, frame.IsTracked(key), "IsTracked(" + key + ")");
                if (key == "face") Assert.Equal(value, frame.FaceTracked, "FaceTracked");
            }

            var head = expected["head"];
            if (head.IsNull)
            {
                Assert.True(frame.Head == null, "head should be null");
            }
            else
            {
                Assert.True(frame.Head != null, "head should be present");
                CheckQuat(head["rotation"], frame.Head.Rotation, "head.rotation");
                CheckVec3(head["position"], frame.Head.Position, "head.position");
                Assert.Near(head["yaw"].AsDouble, frame.Head.YawDeg, AngleTolerance, "head.euler_deg.yaw");
                Assert.Near(head["pitch"].AsDouble, frame.Head.PitchDeg, AngleTolerance, "head.euler_deg.pitch");
                Assert.Near(head["roll"].AsDouble, frame.Head.RollDeg, AngleTolerance, "head.euler_deg.roll");
            }

            CheckQuat(expected["root"]["rotation"], frame.RootRotation, "root.rotation");
            CheckVec3(expected["root"]["position"], frame.RootPosition, "root.position");

            var bonesExpected = expected["bones"].Items;
            Assert.Equal(bonesExpected.Count, frame.Bones.Count, "bones count");
            var seen = new bool[HumanBones.Count];
            for (int i = 0; i < bonesExpected.Count; i++)
            {
                string name = bonesExpected[i].Items[0].AsString;
                var q = bonesExpected[i].Items[1];
                var b = frame.Bones[i];
                Assert.Equal(name, b.Name, "bones[" + i + "] name");
                Assert.Equal(HumanBones.IdOf(name), b.Id, "bones[" + i + "] id");
                CheckQuat(q, b.Rotation, "bones." + name);
                Quat byName;
                Assert.True(frame.TryGetBone(name, out byName), "TryGetBone(" + name + ")");
                CheckQuat(q, byName, "TryGetBone(" + name + ")");
                if (b.Id >= 0)
                {
                    seen[b.Id] = true;
                    Assert.True(frame.HasBone[b.Id], "HasBone[" + name + "]");
                    CheckQuat(q, frame.BoneRotations[b.Id], "BoneRotations[" + name + "]");
                }
            }
            for (int id = 0; id < HumanBones.Count; id++)
                Assert.Equal(seen[id], frame.HasBone[id], "HasBone[" + HumanBones.Names[id] + "]");

            var blend = expected["blendshapes"].Items;
            Assert.Equal(blend.Count, frame.Blendshapes.Count, "blendshapes count");
            for (int i = 0; i < blend.Count; i++)
            {
                string name = blend[i].Items[0].AsString;
                double w = blend[i].Items[1].AsDouble;
                Assert.Equal(name, frame.Blendshapes[i].Name, "blendshapes[" + i + "] name");
                Assert.Near(w, frame.Blendshapes[i].Weight, FloatTolerance, "blendshapes." + name);
                float byName;
                Assert.True(frame.TryGetBlendshape(name, out byName), "TryGetBlendshape(" + name + ")");
            }

            // Through a session: the hello's coords are stamped on the frame; a driver needing
            // "unity" refuses a gltf connection.
            string coords = expected["coords"].AsString;
            var session = new ProtocolSession(coords);
            session.Accept("{\"type\":\"hello\",\"schema\":" + Protocol.SchemaVersion + ",\"engine\":\"vtuber x\",\"coords\":\"" +
                           coords + "\",\"names\":\"" + expected["names"].AsString + "\",\"avatar_profile\":\"p\",\"bones\":[]}");
            var stamped = (FrameMessage)session.Accept(text);
            Assert.Equal(coords, stamped.Coords, "session coords");
        }

        static void CheckQuat(JsonValue expected, Quat actual, string what)
        {
            var e = expected.Items;
            Assert.Equal(4, e.Count, what + " length");
            Assert.Near(e[0].AsDouble, actual.x, FloatTolerance, what + ".x");
            Assert.Near(e[1].AsDouble, actual.y, FloatTolerance, what + ".y");
            Assert.Near(e[2].AsDouble, actual.z, FloatTolerance, what + ".z");
            Assert.Near(e[3].AsDouble, actual.w, FloatTolerance, what + ".w");
        }

        static void CheckVec3(JsonValue expected, Vec3 actual, string what)
        {
            var e = expected.Items;
            Assert.Equal(3, e.Count, what + " length");
            Assert.Near(e[0].AsDouble, actual.x, FloatTolerance, what + ".x");
            Assert.Near(e[1].AsDouble, actual.y, FloatTolerance, what + ".y");
            Assert.Near(e[2].AsDouble, actual.z, FloatTolerance, what + ".z");
        }
    }
}
