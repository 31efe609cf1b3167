// The WebSocket client of the bridge: connects, reads hello and frames on a background task,
// reconnects with exponential backoff, and keeps only the newest frame for the main thread.
// Plain C# (System.Net.WebSockets.ClientWebSocket), no UnityEngine: Unity's VtuberReceiver wraps
// it, and CI runs it under Mono against the Python engine's WebSocket server.
using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Vtuber.Bridge.Core
{
    public enum BridgeState
    {
        Stopped,
        Connecting,
        /// <summary>Socket open, hello received.</summary>
        Connected,
        WaitingToReconnect,
    }

    public sealed class BridgeClient : IDisposable
    {
        /// <summary>Largest message accepted (a 55-bone frame with 60 blendshapes is about 5 KB).</summary>
        public const int MaxMessageBytes = 4 * 1024 * 1024;

        readonly Uri _uri;
        readonly string _shown; // _uri with its token redacted: what logs and errors print
        readonly ProtocolSession _session;
        readonly object _slotLock = new object();
        readonly ConcurrentQueue<string> _log = new ConcurrentQueue<string>();
        FrameMessage _latestFrame;
        HelloMessage _pendingHello;
        CancellationTokenSource _cts;
        Task _task;
        ClientWebSocket _socket;
        volatile int _state;
        volatile string _lastError;
        volatile bool _schemaMismatch;
        volatile HelloMessage _hello;
        // Background task only: a hello arrived on the current connection; the last line logged
        // by Report (a repeated failure is logged once; a hello clears it).
        bool _helloOnThisConnection;
        string _lastLogged;
        long _framesReceived, _framesReplaced, _connections;

        /// <summary>First delay before reconnecting; doubles on each failed attempt up to MaxReconnectDelay.
        /// A connection that reached hello resets it, however that connection ended.</summary>
        public TimeSpan MinReconnectDelay = TimeSpan.FromSeconds(0.5);
        public TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(10);
        public TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

        /// <param name="url">e.g. ws://127.0.0.1:8765/?coords=unity&amp;names=profile (Protocol.BuildUrl).</param>
        /// <param name="requiredCoords">the coords the hello must announce ("unity" for avatars), or null.</param>
        public BridgeClient(string url, string requiredCoords)
        {
            try
            {
                _uri = new Uri(url);
            }
            catch (UriFormatException e)
            {
                throw new ArgumentException("invalid url \"" + url + "\": " + e.Message);
            }
            _shown = Protocol.Redact(_uri.ToString());
            if (_uri.Scheme != "ws" && _uri.Scheme != "wss")
                throw new ArgumentException("url must start with ws:// or wss://, got " + Protocol.Redact(url));
            _session = new ProtocolSession(requiredCoords);
        }

        public Uri Url { get { return _uri; } }
        public BridgeState State { get { return (BridgeState)_state; } }
        /// <summary>The current connection's hello (null before the first).</summary>
        public HelloMessage Hello { get { return _hello; } }
        /// <summary>The last connection or protocol error, null after a clean connection.</summary>
        public string LastError { get { return _lastError; } }
        /// <summary>The engine speaks another schema (LastError says which); the client keeps retrying slowly.</summary>
        public bool SchemaMismatch { get { return _schemaMismatch; } }
        public long FramesReceived { get { return Interlocked.Read(ref _framesReceived); } }
        /// <summary>Frames overwritten by a newer one before TryTakeFrame took them.</summary>
        public long FramesReplaced { get { return Interlocked.Read(ref _framesReplaced); } }
        /// <summary>Connections that reached hello.</summary>
        public long Connections { get { return Interlocked.Read(ref _connections); } }

        public void Start()
        {
            if (_task != null) return;
            _cts = new CancellationTokenSource();
            var token = _cts.Token;
            _task = Task.Run(() => RunAsync(token));
        }

        /// <summary>Close the connection (WebSocket close 1000, abort after 0.5 s) and stop the background task (waits up to 2 s).</summary>
        public void Stop()
        {
            if (_task == null) return;
            var socket = _socket;
            if (socket != null && socket.State == WebSocketState.Open)
            {
                try { socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client closing", CancellationToken.None).Wait(500); }
                catch (Exception) { }
            }
            _cts.Cancel();
            if (socket != null)
            {
                try { socket.Abort(); } catch (Exception) { }
            }
            try { _task.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
            _task = null;
            _cts.Dispose();
            _cts = null;
            _state = (int)BridgeState.Stopped;
        }

        public void Dispose() { Stop(); }

        /// <summary>The newest frame received since the last call (older ones are dropped). Any thread.</summary>
        public bool TryTakeFrame(out FrameMessage frame)
        {
            lock (_slotLock)
            {
                frame = _latestFrame;
                _latestFrame = null;
            }
            return frame != null;
        }

        /// <summary>A hello received since the last call: a new connection. Any thread.</summary>
        public bool TryTakeHello(out HelloMessage hello)
        {
            lock (_slotLock)
            {
                hello = _pendingHello;
                _pendingHello = null;
            }
            return hello != null;
        }

        /// <summary>Log lines produced by the background task (connects, disconnects, errors).</summary>
        public bool TryTakeLog(out string line) { return _log.TryDequeue(out line); }

        async Task RunAsync(CancellationToken token)
        {
            TimeSpan delay = MinReconnectDelay;
            _lastLogged = null;
            while (!token.IsCancellationRequested)
            {
                _state = (int)BridgeState.Connecting;
                _helloOnThisConnection = false;
                using (var socket = new ClientWebSocket())
                {
                    _socket = socket;
                    try
                    {
                        using (var connectCts = CancellationTokenSource.CreateLinkedTokenSource(token))
                        {
                            connectCts.CancelAfter(ConnectTimeout);
                            await socket.ConnectAsync(_uri, connectCts.Token).ConfigureAwait(false);
                        }
                        _session.Reset();
                        await ReceiveLoopAsync(socket, token).ConfigureAwait(false);
                        string reason = socket.CloseStatus.HasValue
                            ? "closed by the engine (" + (int)socket.CloseStatus.Value + " " + socket.CloseStatusDescription + ")"
                            : "connection closed";
                        Report(reason);
                    }
                    catch (SchemaVersionException e)
                    {
                        _schemaMismatch = true;
                        Report(e.Message);
                        await CloseQuietly(socket, WebSocketCloseStatus.PolicyViolation, "unsupported schema").ConfigureAwait(false);
                    }
                    catch (ProtocolException e)
                    {
                        Report("protocol error: " + e.Message);
                        await CloseQuietly(socket, WebSocketCloseStatus.ProtocolError, "protocol error").ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        if (token.IsCancellationRequested) break;
                        // A working connection dropped without a close (engine killed, or it dropped
                        // this client as stalled) is a lost connection, not an unreachable engine.
                        Report(_helloOnThisConnection
                            ? "lost the connection to " + _shown + ": " + Describe(e)
                            : "cannot reach " + _shown + ": " + Describe(e) + CannotReachHint());
                    }
                    finally
                    {
                        _socket = null;
                        _hello = null;
                    }
                }
                if (token.IsCancellationRequested) break;
                // Schema mismatch: retrying soon will not help. Otherwise a connection that reached
                // hello worked: retry soon, however it ended (close, abort, protocol error).
                if (_schemaMismatch) delay = MaxReconnectDelay;
                else if (_helloOnThisConnection) delay = MinReconnectDelay;
                _state = (int)BridgeState.WaitingToReconnect;
                try
                {
                    await Task.Delay(delay, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxReconnectDelay.Ticks));
            }
            _state = (int)BridgeState.Stopped;
        }

        /// <summary>Reads messages until the socket closes; sets _helloOnThisConnection when a hello arrives.</summary>
        async Task ReceiveLoopAsync(ClientWebSocket socket, CancellationToken token)
        {
            var buffer = new byte[16 * 1024];
            var message = new MemoryStream();
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await CloseQuietly(socket, WebSocketCloseStatus.NormalClosure, "").ConfigureAwait(false);
                    break;
                }
                message.Write(buffer, 0, result.Count);
                if (message.Length > MaxMessageBytes)
                    throw new ProtocolException("message larger than " + MaxMessageBytes + " bytes");
                if (!result.EndOfMessage) continue;
                bool isText = result.MessageType == WebSocketMessageType.Text;
                string text = isText ? Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length) : null;
                message.SetLength(0);
                if (!isText) continue; // schema 1 has no binary messages
                object parsed = _session.Accept(text);
                var hello = parsed as HelloMessage;
                if (hello != null)
                {
                    _helloOnThisConnection = true;
                    _lastLogged = null; // the next failure is news, even if it repeats the last one
                    _hello = hello;
                    _lastError = null;
                    _schemaMismatch = false;
                    Interlocked.Increment(ref _connections);
                    lock (_slotLock) _pendingHello = hello;
                    _state = (int)BridgeState.Connected;
                    _log.Enqueue("connected to " + hello.Engine + " at " + _shown + " (schema " + hello.Schema +
                                 ", coords " + hello.Coords + ", names " + hello.Names + ", profile " + hello.AvatarProfile + ")");
                    continue;
                }
                var frame = parsed as FrameMessage;
                if (frame != null)
                {
                    Interlocked.Increment(ref _framesReceived);
                    lock (_slotLock)
                    {
                        if (_latestFrame != null) Interlocked.Increment(ref _framesReplaced);
                        _latestFrame = frame;
                    }
                }
            }
        }

        void Report(string error)
        {
            _lastError = error;
            if (error != _lastLogged) _log.Enqueue(error); // log a repeated failure once (until the next hello)
            _lastLogged = error;
        }

        static async Task CloseQuietly(ClientWebSocket socket, WebSocketCloseStatus status, string reason)
        {
            if (socket.State != WebSocketState.Open && socket.State != WebSocketState.CloseReceived) return;
            try
            {
                using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
                    await socket.CloseOutputAsync(status, reason, cts.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // the peer is gone; nothing to do
            }
        }

        /// <summary>What to check when no connection was made. The engine answers a missing or wrong
        /// token with HTTP 401, which the platform's WebSocket client reports only as a failed
        /// connection; an engine on another machine always needs the token.</summary>
        string CannotReachHint()
        {
            bool loopback = _uri.IsLoopback;
            bool hasToken = _uri.Query.Contains("token=");
            if (loopback && !hasToken) return " (is the engine running, with --ws on this host and port?)";
            return hasToken
                ? " (is the engine running and serving this address with --ws HOST:PORT, and is the token the engine's?)"
                : " (is the engine running and serving this address with --ws HOST:PORT? An engine that serves another address than 127.0.0.1 requires its access token: set the receiver's Access Token)";
        }

        static string Describe(Exception e)
        {
            var inner = e;
            while (inner.InnerException != null) inner = inner.InnerException;
            return inner == e || inner.Message == e.Message ? e.Message : e.Message + " (" + inner.Message + ")";
        }
    }
}
