// Parsing and validation of the engine's WebSocket JSON messages, schema 1 (docs/protocol.md,
// "WebSocket JSON"). Plain C#, no UnityEngine: compiled and unit-tested with Mono in CI against
// messages the Python engine emits in the same run.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Vtuber.Bridge.Core
{
    public static class Protocol
    {
        /// <summary>The wire schema this bridge implements. The package's major version equals it.</summary>
        public const int SchemaVersion = 1;

        public const string PackageName = "com.vtuber.bridge";
        public const string PackageVersion = "1.0.0";

        public const int DefaultPort = 8765;
        public const string CoordsUnity = "unity";
        public const string CoordsGltf = "gltf";
        public const string NamesProfile = "profile";
        public const string NamesArkit = "arkit";

        /// <summary>ws://host:port/?coords=...&amp;names=...[&amp;token=...]</summary>
        /// <param name="host">a host name or IP address (IPv6 with or without brackets); surrounding
        /// spaces are ignored.</param>
        /// <param name="token">the engine's access token (needed when the engine serves another
        /// address than 127.0.0.1, e.g. Unity on a second PC); null or empty: none. Percent-encoded.</param>
        /// <exception cref="ArgumentException">an invalid host, port, coords or names (the message says which).</exception>
        public static string BuildUrl(string host, int port, string coords, string names, string token = null)
        {
            if (coords != CoordsUnity && coords != CoordsGltf)
                throw new ArgumentException("coords must be \"unity\" or \"gltf\", got \"" + coords + "\"");
            if (names != NamesProfile && names != NamesArkit)
                throw new ArgumentException("names must be \"profile\" or \"arkit\", got \"" + names + "\"");
            if (port < 1 || port > 65535) throw new ArgumentException("port must be 1-65535, got " + port);
            string trimmed = host == null ? "" : host.Trim();
            if (trimmed.Length == 0) throw new ArgumentException("host is empty: give a host name or IP address, e.g. 127.0.0.1");
            if (trimmed.Contains("://") || trimmed.Contains("/"))
                throw new ArgumentException("host must be a host name or IP address only (no ws://, path or port), got \"" + host + "\"");
            bool ipv6 = trimmed.Contains(":");
            string bare = ipv6 && trimmed.StartsWith("[") && trimmed.EndsWith("]") ? trimmed.Substring(1, trimmed.Length - 2) : trimmed;
            UriHostNameType kind = Uri.CheckHostName(bare);
            if (kind == UriHostNameType.Unknown || kind == UriHostNameType.Basic || (ipv6 && kind != UriHostNameType.IPv6))
                throw new ArgumentException("host is not a valid host name or IP address" +
                                            (ipv6 ? " (a port goes in the port field)" : "") + ", got \"" + host + "\"");
            string h = ipv6 ? "[" + bare + "]" : bare; // IPv6 literal
            string url = "ws://" + h + ":" + port.ToString(CultureInfo.InvariantCulture) + "/?coords=" + coords + "&names=" + names;
            if (!string.IsNullOrEmpty(token)) url += "&token=" + Uri.EscapeDataString(token);
            try
            {
                new Uri(url);
            }
            catch (UriFormatException e)
            {
                throw new ArgumentException("host \"" + host + "\" does not make a valid url: " + e.Message);
            }
            return url;
        }

        /// <summary>``url`` with the value of its token query parameter replaced by ***, for logs and
        /// messages (a token printed to the Console would leak into screenshots and bug reports).</summary>
        public static string Redact(string url)
        {
            if (url == null) return null;
            int q = url.IndexOf('?');
            if (q < 0) return url;
            var parts = url.Substring(q + 1).Split('&');
            for (int i = 0; i < parts.Length; i++)
                if (parts[i].StartsWith("token=", StringComparison.Ordinal)) parts[i] = "token=***";
            return url.Substring(0, q + 1) + string.Join("&", parts);
        }

        /// <summary>Parse one text message: a HelloMessage, a FrameMessage, or an UnknownMessage (ignore it).</summary>
        /// <exception cref="SchemaVersionException">the message carries a schema other than SchemaVersion.</exception>
        /// <exception cref="ProtocolException">not JSON, or a field is missing or has the wrong type.</exception>
        public static object Parse(string text)
        {
            JsonValue root;
            try
            {
                root = JsonReader.Parse(text);
            }
            catch (JsonException e)
            {
                throw new ProtocolException("message is not JSON: " + e.Message);
            }
            if (root.Kind != JsonKind.Object)
                throw new ProtocolException("message must be a JSON object, got " + JsonValue.Describe(root.Kind));

            JsonValue typeValue;
            if (!root.TryGet("type", out typeValue) || typeValue.Kind != JsonKind.String)
                throw new ProtocolException("message has no string \"type\" field");
            string type = typeValue.AsString;

            // The schema comes first: a message of another schema may have different fields.
            JsonValue schemaValue;
            bool hasSchema = root.TryGet("schema", out schemaValue);
            if (hasSchema)
            {
                if (!schemaValue.IsInteger) throw new ProtocolException(type + ".schema: expected an integer, got " + Show(schemaValue));
                long schema = schemaValue.AsLong;
                if (schema != SchemaVersion) throw new SchemaVersionException(type, schema);
            }

            if (type == "hello" || type == "frame")
            {
                if (!hasSchema) throw new ProtocolException(type + ": missing \"schema\" field");
                try
                {
                    return type == "hello" ? (object)ParseHello(root) : ParseFrame(root);
                }
                catch (JsonException e)
                {
                    throw new ProtocolException(type + ": " + e.Message);
                }
            }
            return new UnknownMessage { Type = type };
        }

        static HelloMessage ParseHello(JsonValue root)
        {
            var hello = new HelloMessage
            {
                Schema = SchemaVersion,
                Engine = GetString(root, "engine", "hello"),
                Coords = GetString(root, "coords", "hello"),
                Names = GetString(root, "names", "hello"),
                AvatarProfile = GetString(root, "avatar_profile", "hello"),
            };
            var bones = Get(root, "bones", JsonKind.Array, "hello").Items;
            hello.Bones = new string[bones.Count];
            for (int i = 0; i < bones.Count; i++)
            {
                if (bones[i].Kind != JsonKind.String)
                    throw new ProtocolException("hello.bones[" + i + "]: expected a string, got " + Show(bones[i]));
                hello.Bones[i] = bones[i].AsString;
            }
            return hello;
        }

        static FrameMessage ParseFrame(JsonValue root)
        {
            var frame = new FrameMessage { Schema = SchemaVersion };
            var index = Get(root, "index", JsonKind.Number, "frame");
            if (!index.IsInteger) throw new ProtocolException("frame.index: expected an integer, got " + index.NumberText);
            frame.Index = index.AsLong;
            frame.T = Get(root, "t", JsonKind.Number, "frame").AsDouble;
            frame.Sent = Get(root, "sent", JsonKind.Number, "frame").AsDouble;

            bool hasFace = false;
            foreach (var kv in Get(root, "tracking", JsonKind.Object, "frame").Members)
            {
                if (kv.Value.Kind != JsonKind.Bool)
                    throw new ProtocolException("frame.tracking." + kv.Key + ": expected a boolean, got " + Show(kv.Value));
                frame.Tracking.Add(new KeyValuePair<string, bool>(kv.Key, kv.Value.AsBool));
                if (kv.Key == "face") { hasFace = true; frame.FaceTracked = kv.Value.AsBool; }
            }
            if (!hasFace) throw new ProtocolException("frame.tracking: missing \"face\"");

            JsonValue head;
            if (!root.TryGet("head", out head)) throw new ProtocolException("frame: missing \"head\" field (null when untracked)");
            if (head.Kind == JsonKind.Object)
            {
                var euler = Get(head, "euler_deg", JsonKind.Object, "frame.head");
                frame.Head = new HeadPose
                {
                    Rotation = ReadQuat(Get(head, "rotation", JsonKind.Array, "frame.head"), "frame.head.rotation"),
                    Position = ReadVec3(Get(head, "position", JsonKind.Array, "frame.head"), "frame.head.position"),
                    YawDeg = Get(euler, "yaw", JsonKind.Number, "frame.head.euler_deg").AsDouble,
                    PitchDeg = Get(euler, "pitch", JsonKind.Number, "frame.head.euler_deg").AsDouble,
                    RollDeg = Get(euler, "roll", JsonKind.Number, "frame.head.euler_deg").AsDouble,
                };
            }
            else if (head.Kind != JsonKind.Null)
            {
                throw new ProtocolException("frame.head: expected an object or null, got " + Show(head));
            }

            var rootPose = Get(root, "root", JsonKind.Object, "frame");
            frame.RootRotation = ReadQuat(Get(rootPose, "rotation", JsonKind.Array, "frame.root"), "frame.root.rotation");
            frame.RootPosition = ReadVec3(Get(rootPose, "position", JsonKind.Array, "frame.root"), "frame.root.position");

            foreach (var kv in Get(root, "bones", JsonKind.Object, "frame").Members)
            {
                string where = "frame.bones." + kv.Key;
                if (kv.Value.Kind != JsonKind.Object)
                    throw new ProtocolException(where + ": expected an object, got " + Show(kv.Value));
                var q = ReadQuat(Get(kv.Value, "rotation", JsonKind.Array, where), where + ".rotation");
                int id = HumanBones.IdOf(kv.Key);
                frame.Bones.Add(new BoneRotation { Name = kv.Key, Id = id, Rotation = q });
                if (id >= 0)
                {
                    frame.BoneRotations[id] = q;
                    frame.HasBone[id] = true;
                }
            }

            foreach (var kv in Get(root, "blendshapes", JsonKind.Object, "frame").Members)
            {
                if (kv.Value.Kind != JsonKind.Number)
                    throw new ProtocolException("frame.blendshapes." + kv.Key + ": expected a number, got " + Show(kv.Value));
                frame.Blendshapes.Add(new NamedWeight(kv.Key, (float)kv.Value.AsDouble));
            }
            return frame;
        }

        static JsonValue Get(JsonValue obj, string key, JsonKind kind, string where)
        {
            JsonValue v;
            if (!obj.TryGet(key, out v)) throw new ProtocolException(where + ": missing \"" + key + "\" field");
            if (v.Kind != kind)
                throw new ProtocolException(where + "." + key + ": expected " + JsonValue.Describe(kind) + ", got " + Show(v));
            return v;
        }

        static string GetString(JsonValue obj, string key, string where)
        {
            return Get(obj, key, JsonKind.String, where).AsString;
        }

        static Quat ReadQuat(JsonValue array, string where)
        {
            var a = Numbers(array, 4, where);
            return new Quat((float)a[0], (float)a[1], (float)a[2], (float)a[3]);
        }

        static Vec3 ReadVec3(JsonValue array, string where)
        {
            var a = Numbers(array, 3, where);
            return new Vec3((float)a[0], (float)a[1], (float)a[2]);
        }

        static double[] Numbers(JsonValue array, int count, string where)
        {
            var items = array.Items;
            if (items.Count != count)
                throw new ProtocolException(where + ": expected " + count + " numbers, got " + items.Count + " values");
            var result = new double[count];
            for (int i = 0; i < count; i++)
            {
                if (items[i].Kind != JsonKind.Number)
                    throw new ProtocolException(where + "[" + i + "]: expected a number, got " + Show(items[i]));
                result[i] = items[i].AsDouble;
            }
            return result;
        }

        static string Show(JsonValue v)
        {
            switch (v.Kind)
            {
                case JsonKind.Number: return v.NumberText;
                case JsonKind.String: return "\"" + v.AsString + "\"";
                case JsonKind.Bool: return v.AsBool ? "true" : "false";
                default: return JsonValue.Describe(v.Kind);
            }
        }
    }

    /// <summary>A message the bridge cannot use: not JSON, a missing field, a wrong type, a wrong order.</summary>
    public class ProtocolException : Exception
    {
        public ProtocolException(string message) : base(message) { }
    }

    /// <summary>The engine speaks a schema this bridge does not implement. Reconnecting will not help:
    /// update the package (or the engine) so both use the same schema.</summary>
    public sealed class SchemaVersionException : ProtocolException
    {
        public readonly long ReceivedSchema;
        public readonly int SupportedSchema = Protocol.SchemaVersion;
        public readonly string MessageType;

        public SchemaVersionException(string messageType, long receivedSchema)
            : base(string.Format(CultureInfo.InvariantCulture,
                "vtuber protocol schema mismatch: the engine sent a \"{0}\" message with schema {1}, but this " +
                "Unity bridge ({2} {3}) implements schema {4} only. Install the {2} version whose major version " +
                "is {1}, or run an engine that speaks schema {4}.",
                messageType, receivedSchema, Protocol.PackageName, Protocol.PackageVersion, Protocol.SchemaVersion))
        {
            MessageType = messageType;
            ReceivedSchema = receivedSchema;
        }
    }

    /// <summary>The message order of one connection: a hello first, then frames. Checks the hello's
    /// coords (the Unity avatar driver needs "unity") and stamps it on each frame.</summary>
    public sealed class ProtocolSession
    {
        readonly string _requiredCoords;

        /// <param name="requiredCoords">"unity", "gltf", or null to accept either.</param>
        public ProtocolSession(string requiredCoords)
        {
            _requiredCoords = requiredCoords;
        }

        /// <summary>The connection's hello, null until received.</summary>
        public HelloMessage Hello { get; private set; }

        /// <summary>Start over for a new connection.</summary>
        public void Reset() { Hello = null; }

        /// <summary>Parse and check one message; returns it (HelloMessage, FrameMessage or UnknownMessage).</summary>
        public object Accept(string text)
        {
            object message = Protocol.Parse(text);
            var hello = message as HelloMessage;
            if (hello != null)
            {
                if (_requiredCoords != null && hello.Coords != _requiredCoords)
                    throw new ProtocolException("hello.coords is \"" + hello.Coords + "\" but this client needs \"" +
                                                _requiredCoords + "\" (connect with ?coords=" + _requiredCoords + ")");
                Hello = hello;
                return hello;
            }
            var frame = message as FrameMessage;
            if (frame != null)
            {
                if (Hello == null) throw new ProtocolException("frame received before hello");
                frame.Coords = Hello.Coords;
            }
            return message;
        }
    }
}
