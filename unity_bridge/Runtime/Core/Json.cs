// A small, strict JSON (RFC 8259) reader for the vtuber wire protocol. Plain C#, no UnityEngine.
// Unity's JsonUtility cannot read dictionaries (the "bones", "blendshapes" and "tracking" objects),
// so the bridge carries its own reader. Objects keep their key order.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Vtuber.Bridge.Core
{
    public enum JsonKind { Null, Bool, Number, String, Array, Object }

    /// <summary>A parsed JSON value. Numbers keep their source text so integers and doubles are exact.</summary>
    public sealed class JsonValue
    {
        public static readonly JsonValue NullValue = new JsonValue(JsonKind.Null);

        public readonly JsonKind Kind;
        bool _bool;
        string _text; // string value, or the number's literal text
        List<JsonValue> _items;
        List<KeyValuePair<string, JsonValue>> _members;
        Dictionary<string, JsonValue> _lookup;

        JsonValue(JsonKind kind) { Kind = kind; }

        internal static JsonValue Bool(bool b) { var v = new JsonValue(JsonKind.Bool); v._bool = b; return v; }
        internal static JsonValue Number(string literal) { var v = new JsonValue(JsonKind.Number); v._text = literal; return v; }
        internal static JsonValue String(string s) { var v = new JsonValue(JsonKind.String); v._text = s; return v; }
        internal static JsonValue Array(List<JsonValue> items) { var v = new JsonValue(JsonKind.Array); v._items = items; return v; }

        internal static JsonValue Object(List<KeyValuePair<string, JsonValue>> members)
        {
            var v = new JsonValue(JsonKind.Object);
            v._members = members;
            v._lookup = new Dictionary<string, JsonValue>(members.Count, StringComparer.Ordinal);
            foreach (var m in members) v._lookup[m.Key] = m.Value; // a repeated key: the last wins, as in Python
            return v;
        }

        public bool IsNull { get { return Kind == JsonKind.Null; } }

        public bool AsBool { get { Expect(JsonKind.Bool); return _bool; } }

        public string AsString { get { Expect(JsonKind.String); return _text; } }

        /// <summary>The number's literal text, e.g. "1e-06".</summary>
        public string NumberText { get { Expect(JsonKind.Number); return _text; } }

        public double AsDouble
        {
            get
            {
                Expect(JsonKind.Number);
                return double.Parse(_text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        /// <summary>True for a number written without fraction or exponent (JSON has no other int marker).</summary>
        public bool IsInteger
        {
            get { return Kind == JsonKind.Number && _text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0; }
        }

        public long AsLong
        {
            get
            {
                Expect(JsonKind.Number);
                long result;
                if (!IsInteger || !long.TryParse(_text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result))
                    throw new JsonException("expected an integer, got " + _text);
                return result;
            }
        }

        public IList<JsonValue> Items { get { Expect(JsonKind.Array); return _items; } }

        public IList<KeyValuePair<string, JsonValue>> Members { get { Expect(JsonKind.Object); return _members; } }

        public bool TryGet(string key, out JsonValue value)
        {
            Expect(JsonKind.Object);
            return _lookup.TryGetValue(key, out value);
        }

        public bool Has(string key) { Expect(JsonKind.Object); return _lookup.ContainsKey(key); }

        public JsonValue this[string key]
        {
            get
            {
                JsonValue v;
                if (!TryGet(key, out v)) throw new JsonException("missing key \"" + key + "\"");
                return v;
            }
        }

        void Expect(JsonKind kind)
        {
            if (Kind != kind) throw new JsonException("expected " + Describe(kind) + ", got " + Describe(Kind));
        }

        public static string Describe(JsonKind kind)
        {
            switch (kind)
            {
                case JsonKind.Null: return "null";
                case JsonKind.Bool: return "a boolean";
                case JsonKind.Number: return "a number";
                case JsonKind.String: return "a string";
                case JsonKind.Array: return "an array";
                default: return "an object";
            }
        }

        public static JsonValue Parse(string text) { return JsonReader.Parse(text); }
    }

    public sealed class JsonException : FormatException
    {
        public JsonException(string message) : base(message) { }
    }

    /// <summary>Recursive-descent parser. Rejects trailing commas, comments, NaN, single quotes, etc.</summary>
    public static class JsonReader
    {
        const int MaxDepth = 64;

        public static JsonValue Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            int pos = 0;
            SkipWhitespace(text, ref pos);
            var value = ParseValue(text, ref pos, 0);
            SkipWhitespace(text, ref pos);
            if (pos != text.Length) throw Error(text, pos, "unexpected text after the JSON value");
            return value;
        }

        static JsonValue ParseValue(string s, ref int pos, int depth)
        {
            if (depth > MaxDepth) throw Error(s, pos, "nesting deeper than " + MaxDepth);
            if (pos >= s.Length) throw Error(s, pos, "unexpected end of text");
            char c = s[pos];
            switch (c)
            {
                case '{': return ParseObject(s, ref pos, depth);
                case '[': return ParseArray(s, ref pos, depth);
                case '"': return JsonValue.String(ParseString(s, ref pos));
                case 't': Literal(s, ref pos, "true"); return JsonValue.Bool(true);
                case 'f': Literal(s, ref pos, "false"); return JsonValue.Bool(false);
                case 'n': Literal(s, ref pos, "null"); return JsonValue.NullValue;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(s, ref pos);
                    throw Error(s, pos, "unexpected character '" + c + "'");
            }
        }

        static JsonValue ParseObject(string s, ref int pos, int depth)
        {
            pos++; // {
            var members = new List<KeyValuePair<string, JsonValue>>();
            SkipWhitespace(s, ref pos);
            if (pos < s.Length && s[pos] == '}') { pos++; return JsonValue.Object(members); }
            while (true)
            {
                SkipWhitespace(s, ref pos);
                if (pos >= s.Length || s[pos] != '"') throw Error(s, pos, "expected a string key");
                string key = ParseString(s, ref pos);
                SkipWhitespace(s, ref pos);
                if (pos >= s.Length || s[pos] != ':') throw Error(s, pos, "expected ':'");
                pos++;
                SkipWhitespace(s, ref pos);
                members.Add(new KeyValuePair<string, JsonValue>(key, ParseValue(s, ref pos, depth + 1)));
                SkipWhitespace(s, ref pos);
                if (pos >= s.Length) throw Error(s, pos, "unterminated object");
                if (s[pos] == ',') { pos++; continue; }
                if (s[pos] == '}') { pos++; return JsonValue.Object(members); }
                throw Error(s, pos, "expected ',' or '}'");
            }
        }

        static JsonValue ParseArray(string s, ref int pos, int depth)
        {
            pos++; // [
            var items = new List<JsonValue>();
            SkipWhitespace(s, ref pos);
            if (pos < s.Length && s[pos] == ']') { pos++; return JsonValue.Array(items); }
            while (true)
            {
                SkipWhitespace(s, ref pos);
                items.Add(ParseValue(s, ref pos, depth + 1));
                SkipWhitespace(s, ref pos);
                if (pos >= s.Length) throw Error(s, pos, "unterminated array");
                if (s[pos] == ',') { pos++; continue; }
                if (s[pos] == ']') { pos++; return JsonValue.Array(items); }
                throw Error(s, pos, "expected ',' or ']'");
            }
        }

        static string ParseString(string s, ref int pos)
        {
            pos++; // opening quote
            StringBuilder sb = null;
            int runStart = pos;
            while (true)
            {
                if (pos >= s.Length) throw Error(s, pos, "unterminated string");
                char c = s[pos];
                if (c == '"')
                {
                    string result = sb == null ? s.Substring(runStart, pos - runStart)
                                               : sb.Append(s, runStart, pos - runStart).ToString();
                    pos++;
                    return result;
                }
                if (c < 0x20) throw Error(s, pos, "control character in string");
                if (c != '\\') { pos++; continue; }
                if (sb == null) sb = new StringBuilder();
                sb.Append(s, runStart, pos - runStart);
                pos++;
                if (pos >= s.Length) throw Error(s, pos, "unterminated escape");
                char e = s[pos++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (pos + 4 > s.Length) throw Error(s, pos, "short \\u escape");
                        int code = 0;
                        for (int i = 0; i < 4; i++)
                        {
                            int h = HexValue(s[pos + i]);
                            if (h < 0) throw Error(s, pos + i, "bad hex digit in \\u escape");
                            code = code * 16 + h;
                        }
                        pos += 4;
                        sb.Append((char)code); // surrogate pairs arrive as two escapes and recombine in UTF-16
                        break;
                    default: throw Error(s, pos - 1, "unknown escape '\\" + e + "'");
                }
                runStart = pos;
            }
        }

        static JsonValue ParseNumber(string s, ref int pos)
        {
            int start = pos;
            if (s[pos] == '-') pos++;
            if (pos >= s.Length) throw Error(s, pos, "bad number");
            if (s[pos] == '0') pos++;
            else if (s[pos] >= '1' && s[pos] <= '9') { while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9') pos++; }
            else throw Error(s, pos, "bad number");
            if (pos < s.Length && s[pos] == '.')
            {
                pos++;
                int digits = pos;
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9') pos++;
                if (pos == digits) throw Error(s, pos, "digits expected after '.'");
            }
            if (pos < s.Length && (s[pos] == 'e' || s[pos] == 'E'))
            {
                pos++;
                if (pos < s.Length && (s[pos] == '+' || s[pos] == '-')) pos++;
                int digits = pos;
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9') pos++;
                if (pos == digits) throw Error(s, pos, "digits expected in exponent");
            }
            return JsonValue.Number(s.Substring(start, pos - start));
        }

        static void Literal(string s, ref int pos, string word)
        {
            if (string.CompareOrdinal(s, pos, word, 0, word.Length) != 0) throw Error(s, pos, "expected " + word);
            pos += word.Length;
        }

        static int HexValue(char c)
        {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        }

        static void SkipWhitespace(string s, ref int pos)
        {
            while (pos < s.Length)
            {
                char c = s[pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                pos++;
            }
        }

        static JsonException Error(string s, int pos, string what)
        {
            return new JsonException("invalid JSON at character " + pos + ": " + what);
        }
    }
}
