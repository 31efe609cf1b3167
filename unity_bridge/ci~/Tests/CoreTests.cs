// Unit tests of the protocol core that need no engine: the JSON reader, malformed messages,
// message order, name tables.
using System;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge.Tests
{
    public static class CoreTests
    {
        const string Hello = "{\"type\":\"hello\",\"schema\":1,\"engine\":\"vtuber 0.1.0\",\"coords\":\"unity\",\"names\":\"profile\",\"avatar_profile\":\"vrm0\",\"bones\":[\"Hips\"]}";
        const string Frame = "{\"type\":\"frame\",\"schema\":1,\"index\":3,\"t\":0.1,\"sent\":1.5,\"tracking\":{\"face\":true},\"head\":null," +
                             "\"root\":{\"rotation\":[0.0,0.0,0.0,1.0],\"position\":[0.0,0.0,0.0]},\"bones\":{\"Head\":{\"rotation\":[0.0,0.6,0.0,0.8]}},\"blendshapes\":{\"A\":0.5}}";

        public static void Run(Runner r)
        {
            r.Run("json: scalars, nesting, key order", () =>
            {
                var v = JsonReader.Parse(" {\"b\": [1, -2.5e3, true, false, null, \"x\"], \"a\": {}} ");
                Assert.Equal("b", v.Members[0].Key, "first key");
                Assert.Equal("a", v.Members[1].Key, "second key");
                var items = v["b"].Items;
                Assert.Equal(1L, items[0].AsLong, "int");
                Assert.Equal(-2500.0, items[1].AsDouble, "exponent");
                Assert.True(items[2].AsBool && !items[3].AsBool && items[4].IsNull, "literals");
                Assert.Equal("x", items[5].AsString, "string");
                Assert.Equal(0, v["a"].Members.Count, "empty object");
            });

            r.Run("json: string escapes and surrogate pairs", () =>
            {
                var v = JsonReader.Parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u307e\\ud83d\\ude00\"");
                Assert.Equal("a\"b\\c/d\b\f\n\r\t\u00e9\u307e\U0001F600".Length, v.AsString.Length, "length");
                Assert.Equal("a\"b\\c/d\b\f\n\r\t\u00e9\u307e" + char.ConvertFromUtf32(0x1F600), v.AsString, "decoded");
            });

            r.Run("json: numbers keep their exact value", () =>
            {
                Assert.Equal(1767225600.123456, JsonReader.Parse("1767225600.123456").AsDouble, "wall clock");
                Assert.Equal(1e-06, JsonReader.Parse("1e-06").AsDouble, "python exponent form");
                Assert.Equal(1099511627783L, JsonReader.Parse("1099511627783").AsLong, "2**40 + 7");
                Assert.True(!JsonReader.Parse("1.0").IsInteger, "1.0 is not an integer");
            });

            r.Run("json: rejects invalid text", () =>
            {
                foreach (var bad in new[] { "", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "NaN", "01", "1.", "-", "\"\\x\"", "\"a",
                                            "{\"a\" 1}", "[1 2]", "tru", "1 2", "\"tab\there\"", "\"\\u12\"" })
                    Assert.Throws<JsonException>(() => JsonReader.Parse(bad), "parse of <" + bad + ">");
            });

            r.Run("protocol: valid hello and frame", () =>
            {
                var h = (HelloMessage)Protocol.Parse(Hello);
                Assert.Equal("vrm0", h.AvatarProfile, "profile");
                var f = (FrameMessage)Protocol.Parse(Frame);
                Assert.Equal(3L, f.Index, "index");
                Assert.Equal(0.6f, f.BoneRotations[HumanBones.IdOf("Head")].y, "Head.y");
                Assert.True(f.Head == null && f.FaceTracked, "head null, face tracked");
            });

            r.Run("protocol: unknown fields and message types are ignored", () =>
            {
                var f = (FrameMessage)Protocol.Parse(Frame.Replace("\"index\":3,", "\"index\":3,\"future\":{\"x\":[1,2]},"));
                Assert.Equal(3L, f.Index, "index");
                var u = Protocol.Parse("{\"type\":\"stats\",\"schema\":1,\"fps\":30}") as UnknownMessage;
                Assert.True(u != null && u.Type == "stats", "unknown type");
                var bones = (FrameMessage)Protocol.Parse(Frame.Replace("\"Head\":", "\"Tail\":{\"rotation\":[0,0,0,1]},\"Head\":"));
                Assert.Equal(-1, bones.Bones[0].Id, "unknown bone id");
                Assert.True(bones.HasBone[HumanBones.IdOf("Head")], "known bone still read");
            });

            r.Run("protocol: malformed messages give a ProtocolException naming the field", () =>
            {
                var cases = new[]
                {
                    new[] { "not json", "not JSON" },
                    new[] { "[1]", "JSON object" },
                    new[] { "{\"schema\":1}", "\"type\"" },
                    new[] { Frame.Replace("\"schema\":1,", ""), "missing \"schema\"" },
                    new[] { Frame.Replace("\"schema\":1", "\"schema\":1.0"), "frame.schema" },
                    new[] { Frame.Replace("\"index\":3", "\"index\":3.5"), "frame.index" },
                    new[] { Frame.Replace("\"t\":0.1,", ""), "missing \"t\"" },
                    new[] { Frame.Replace("{\"face\":true}", "{\"left_hand\":true}"), "tracking: missing \"face\"" },
                    new[] { Frame.Replace("{\"face\":true}", "{\"face\":1}"), "frame.tracking.face" },
                    new[] { Frame.Replace("\"head\":null,", ""), "\"head\"" },
                    new[] { Frame.Replace("\"head\":null", "\"head\":[]"), "frame.head" },
                    new[] { Frame.Replace("[0.0,0.6,0.0,0.8]", "[0.0,0.6,0.8]"), "frame.bones.Head.rotation" },
                    new[] { Frame.Replace("[0.0,0.6,0.0,0.8]", "[0.0,\"0.6\",0.0,0.8]"), "frame.bones.Head.rotation[1]" },
                    new[] { Frame.Replace("\"position\":[0.0,0.0,0.0]", "\"position\":null"), "frame.root.position" },
                    new[] { Frame.Replace("\"A\":0.5", "\"A\":null"), "frame.blendshapes.A" },
                    new[] { Hello.Replace("[\"Hips\"]", "[1]"), "hello.bones[0]" },
                    new[] { Hello.Replace("\"engine\":\"vtuber 0.1.0\",", ""), "missing \"engine\"" },
                };
                foreach (var c in cases)
                {
                    var e = Assert.Throws<ProtocolException>(() => Protocol.Parse(c[0]), "parse of " + c[0]);
                    Assert.True(!(e is SchemaVersionException), "not a schema error: " + e.Message);
                    Assert.True(e.Message.Contains(c[1]), "message <" + e.Message + "> should mention <" + c[1] + ">");
                }
            });

            r.Run("protocol: any other schema is refused before the fields are read", () =>
            {
                foreach (var schema in new[] { "0", "2", "-1", "100" })
                {
                    var e = Assert.Throws<SchemaVersionException>(
                        () => Protocol.Parse("{\"type\":\"frame\",\"schema\":" + schema + ",\"totally\":\"different\"}"), "schema " + schema);
                    Assert.Equal(long.Parse(schema), e.ReceivedSchema, "received");
                    Assert.True(e.Message.Contains("schema mismatch") && e.Message.Contains(Protocol.PackageName), e.Message);
                }
                Assert.Throws<SchemaVersionException>(() => Protocol.Parse("{\"type\":\"news\",\"schema\":2}"), "unknown type, other schema");
            });

            r.Run("session: hello first, coords checked, reset per connection", () =>
            {
                var s = new ProtocolSession(Protocol.CoordsUnity);
                var e = Assert.Throws<ProtocolException>(() => s.Accept(Frame), "frame before hello");
                Assert.True(e.Message.Contains("before hello"), e.Message);
                Assert.True(s.Accept(Hello) is HelloMessage && s.Hello != null, "hello accepted");
                Assert.Equal("unity", ((FrameMessage)s.Accept(Frame)).Coords, "coords stamped");
                s.Reset();
                Assert.True(s.Hello == null, "reset");
                var gltf = Assert.Throws<ProtocolException>(() => s.Accept(Hello.Replace("\"unity\"", "\"gltf\"")), "gltf hello");
                Assert.True(gltf.Message.Contains("coords=unity"), gltf.Message);
                var any = new ProtocolSession(null);
                Assert.Equal("gltf", ((HelloMessage)any.Accept(Hello.Replace("\"unity\"", "\"gltf\""))).Coords, "any coords");
            });

            r.Run("human bones: Unity enum values, parents before children", () =>
            {
                Assert.Equal(55, HumanBones.Names.Length, "count");
                Assert.Equal(0, HumanBones.IdOf("Hips"), "Hips");
                Assert.Equal(10, HumanBones.IdOf("Head"), "Head");
                Assert.Equal(23, HumanBones.IdOf("Jaw"), "Jaw");
                Assert.Equal(24, HumanBones.IdOf("LeftThumbProximal"), "LeftThumbProximal");
                Assert.Equal(53, HumanBones.IdOf("RightLittleDistal"), "RightLittleDistal");
                Assert.Equal(54, HumanBones.IdOf("UpperChest"), "UpperChest");
                Assert.Equal(-1, HumanBones.IdOf("LastBone"), "LastBone");
                Assert.Equal(-1, HumanBones.IdOf(null), "null");
                Assert.Equal(55, HumanBones.ParentFirstOrder.Length, "order length");
                var placed = new bool[55];
                foreach (int id in HumanBones.ParentFirstOrder)
                {
                    int parent = HumanBones.Parents[id];
                    Assert.True(parent < 0 || placed[parent], HumanBones.Names[id] + " before its parent");
                    placed[id] = true;
                }
            });

            r.Run("expression names: VRM 0.x and 1.0 presets map both ways", () =>
            {
                Assert.Equal("Blink_L", ExpressionNames.Vrm0Preset("blinkLeft"), "blinkLeft");
                Assert.Equal("Blink_L", ExpressionNames.Vrm0Preset("Blink_L"), "Blink_L");
                Assert.Equal("A", ExpressionNames.Vrm0Preset("aa"), "aa");
                Assert.Equal("Joy", ExpressionNames.Vrm0Preset("happy"), "happy");
                Assert.Equal("Sorrow", ExpressionNames.Vrm0Preset("sad"), "sad");
                Assert.Equal(null, ExpressionNames.Vrm0Preset("surprised"), "surprised is custom in 0.x");
                Assert.Equal(null, ExpressionNames.Vrm0Preset("EyeBlinkLeft"), "perfect sync is custom");
                Assert.Equal("blinkRight", ExpressionNames.Vrm1Preset("Blink_R"), "Blink_R");
                Assert.Equal("aa", ExpressionNames.Vrm1Preset("A"), "A");
                Assert.Equal("ih", ExpressionNames.Vrm1Preset("ih"), "ih");
                Assert.Equal("relaxed", ExpressionNames.Vrm1Preset("Fun"), "Fun");
                Assert.Equal("surprised", ExpressionNames.Vrm1Preset("surprised"), "surprised");
                Assert.Equal("neutral", ExpressionNames.Vrm1Preset("Neutral"), "Neutral");
                Assert.Equal(null, ExpressionNames.Vrm1Preset("jawOpen"), "ARKit is custom");
                Assert.Equal(null, ExpressionNames.Vrm1Preset(null), "null");
            });

            r.Run("url: query parameters and validation", () =>
            {
                Assert.Equal("ws://127.0.0.1:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl("127.0.0.1", Protocol.DefaultPort, "unity", "profile"), "default");
                Assert.Equal("ws://[::1]:9000/?coords=gltf&names=arkit", Protocol.BuildUrl("::1", 9000, "gltf", "arkit"), "ipv6");
                Assert.Throws<ArgumentException>(() => Protocol.BuildUrl("h", 8765, "Unity", "profile"), "coords case");
                Assert.Throws<ArgumentException>(() => Protocol.BuildUrl("h", 0, "unity", "profile"), "port");
                Assert.Throws<ArgumentException>(() => new BridgeClient("http://127.0.0.1:8765/", "unity"), "scheme");
                Assert.Throws<ArgumentException>(() => new BridgeClient("ws://my pc:8765/", "unity"), "bad url: ArgumentException, not UriFormatException");
            });

            r.Run("url: the access token is percent-encoded into the query and redacted for display", () =>
            {
                string url = Protocol.BuildUrl("192.168.1.20", 8765, "unity", "profile", "s3cr&t =/x");
                Assert.Equal("ws://192.168.1.20:8765/?coords=unity&names=profile&token=s3cr%26t%20%3D%2Fx", url, "encoded");
                Assert.Equal("ws://127.0.0.1:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl("127.0.0.1", 8765, "unity", "profile", ""), "empty: no token parameter");
                Assert.Equal("ws://192.168.1.20:8765/?coords=unity&names=profile&token=***", Protocol.Redact(url), "redacted");
                Assert.Equal("ws://h:1/?token=***&coords=unity", Protocol.Redact("ws://h:1/?token=abc&coords=unity"), "first parameter");
                Assert.Equal("ws://h:1/", Protocol.Redact("ws://h:1/"), "no query");
                using (var c = new BridgeClient(url, "unity"))
                    Assert.Equal(url, c.Url.AbsoluteUri, "the client connects with the real token");
            });

            r.Run("url: hosts are trimmed and checked (an ArgumentException, never a UriFormatException)", () =>
            {
                Assert.Equal("ws://127.0.0.1:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl(" 127.0.0.1 ", 8765, "unity", "profile"), "spaces around");
                Assert.Equal("ws://localhost:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl("localhost", 8765, "unity", "profile"), "name");
                Assert.Equal("ws://my-pc.local:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl("my-pc.local", 8765, "unity", "profile"), "dotted name");
                Assert.Equal("ws://[::1]:8765/?coords=unity&names=profile",
                    Protocol.BuildUrl("[::1]", 8765, "unity", "profile"), "bracketed ipv6");
                foreach (var bad in new[] { "", "   ", null, "my pc", "ws://127.0.0.1", "127.0.0.1/x", "127.0.0.1:8765", "a\tb", "h?x", "h#x", "[::1" })
                {
                    var e = Assert.Throws<ArgumentException>(() => Protocol.BuildUrl(bad, 8765, "unity", "profile"),
                        "host \"" + bad + "\"");
                    Assert.True(e.Message.StartsWith("host"), "message names the host: " + e.Message);
                    Assert.True(e.Message.IndexOf('\n') < 0, "one line: " + e.Message);
                }
                // What VtuberReceiver.OnEnable does with the url: no other exception type escapes.
                foreach (var ok in new[] { "127.0.0.1 ", "::1", "example.com" })
                    new BridgeClient(Protocol.BuildUrl(ok, 8765, "unity", "profile"), "unity").Dispose();
            });

            r.Run("client: nothing to take before start; stop is idempotent", () =>
            {
                var c = new BridgeClient(Protocol.BuildUrl("127.0.0.1", 1, "unity", "profile"), "unity");
                FrameMessage f;
                Assert.True(!c.TryTakeFrame(out f) && f == null, "no frame");
                Assert.Equal(BridgeState.Stopped, c.State, "state");
                c.Stop();
                c.Dispose();
            });
        }
    }
}
