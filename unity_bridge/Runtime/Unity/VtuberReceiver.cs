using System;
using UnityEngine;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge
{
    public enum BlendshapeVocabulary
    {
        /// <summary>names=profile: the engine's avatar profile names (VRM 0.x presets, VRM 1.0 expressions, Perfect Sync).</summary>
        Profile,
        /// <summary>names=arkit: ARKit-52 names plus visemes aa ih ou ee oh.</summary>
        Arkit,
    }

    /// <summary>
    /// Connects to the vtuber engine's WebSocket API (ws://host:port/?coords=unity), reconnecting
    /// with backoff, and hands the newest frame to the main thread. Read <see cref="LatestFrame"/>
    /// or subscribe to <see cref="FrameReceived"/> from your own scripts.
    /// </summary>
    [AddComponentMenu("vtuber/Vtuber Receiver")]
    [DefaultExecutionOrder(-100)]
    [DisallowMultipleComponent]
    public sealed class VtuberReceiver : MonoBehaviour
    {
        [Tooltip("Host of the engine's WebSocket server.")]
        public string host = "127.0.0.1";

        [Tooltip("Port of the engine's WebSocket server (engine default 8765).")]
        public int port = Protocol.DefaultPort;

        [Tooltip("The engine's access token (its --ws-token / [websocket] token), needed when the engine serves another address than 127.0.0.1, e.g. Unity on a second PC. Empty: none.")]
        public string accessToken = "";

        [Tooltip("Blendshape names to request: the avatar profile's (names=profile) or ARKit-52 (names=arkit).")]
        public BlendshapeVocabulary blendshapeNames = BlendshapeVocabulary.Profile;

        [Tooltip("Seconds before the first reconnect attempt; doubles per failure.")]
        [Min(0.05f)]
        public float minReconnectDelay = 0.5f;

        [Tooltip("Longest wait between reconnect attempts, seconds.")]
        [Min(0.05f)]
        public float maxReconnectDelay = 10f;

        [Tooltip("Log connects, disconnects and errors to the Console.")]
        public bool logConnection = true;

        BridgeClient _client;

        /// <summary>The newest frame (main thread), null until the first one arrives.</summary>
        public FrameMessage LatestFrame { get; private set; }

        /// <summary>The current connection's hello, null while disconnected.</summary>
        public HelloMessage Hello { get { return _client != null ? _client.Hello : null; } }

        public BridgeState State { get { return _client != null ? _client.State : BridgeState.Stopped; } }

        /// <summary>Why the last connection failed or closed; null while connected cleanly.</summary>
        public string LastError { get { return _client != null ? _client.LastError : null; } }

        /// <summary>True when the engine speaks a schema this package does not implement (see LastError).</summary>
        public bool SchemaMismatch { get { return _client != null && _client.SchemaMismatch; } }

        /// <summary>Frames handed to the main thread so far.</summary>
        public long FrameCount { get; private set; }

        /// <summary>Raised on the main thread (in Update) for each new frame.</summary>
        public event Action<FrameMessage> FrameReceived;

        /// <summary>Raised on the main thread when a connection's hello arrives.</summary>
        public event Action<HelloMessage> Connected;

        public string Url
        {
            get
            {
                string names = blendshapeNames == BlendshapeVocabulary.Arkit ? Protocol.NamesArkit : Protocol.NamesProfile;
                return Protocol.BuildUrl(host, port, Protocol.CoordsUnity, names, accessToken);
            }
        }

        void OnEnable()
        {
            try
            {
                _client = new BridgeClient(Url, Protocol.CoordsUnity)
                {
                    MinReconnectDelay = TimeSpan.FromSeconds(minReconnectDelay),
                    MaxReconnectDelay = TimeSpan.FromSeconds(Mathf.Max(minReconnectDelay, maxReconnectDelay)),
                };
            }
            catch (Exception e) when (e is ArgumentException || e is FormatException) // FormatException: UriFormatException
            {
                Debug.LogError("VtuberReceiver: " + e.Message, this);
                enabled = false;
                return;
            }
            _client.Start();
        }

        void OnDisable()
        {
            if (_client == null) return;
            _client.Dispose();
            _client = null;
        }

        /// <summary>Drop the connection and connect again (e.g. after changing host or port).</summary>
        public void Reconnect()
        {
            if (!isActiveAndEnabled) return;
            OnDisable();
            OnEnable();
        }

        void Update()
        {
            if (_client == null) return;
            string line;
            while (_client.TryTakeLog(out line))
            {
                if (!logConnection) continue;
                if (line.Contains("schema mismatch")) Debug.LogError("vtuber: " + line, this);
                else if (line.StartsWith("connected")) Debug.Log("vtuber: " + line, this);
                else Debug.LogWarning("vtuber: " + line, this);
            }

            HelloMessage hello;
            if (_client.TryTakeHello(out hello) && Connected != null)
            {
                try { Connected(hello); }
                catch (Exception e) { Debug.LogException(e, this); }
            }

            FrameMessage frame;
            if (_client.TryTakeFrame(out frame))
            {
                LatestFrame = frame;
                FrameCount++;
                if (FrameReceived != null)
                {
                    try { FrameReceived(frame); }
                    catch (Exception e) { Debug.LogException(e, this); }
                }
            }
        }
    }
}
