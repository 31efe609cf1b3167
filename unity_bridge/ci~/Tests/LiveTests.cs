// BridgeClient against the engine's real WebSocket server (vtuber.send.websocket), driven by
// unity_bridge/ci~/live_server.py: the server starts after the client (connection refused, then
// backoff), publishes frames, restarts once (the client must reconnect), and keeps publishing.
using System;
using System.Diagnostics;
using System.Threading;
using Vtuber.Bridge.Core;

namespace Vtuber.Bridge.Tests
{
    public static class LiveTests
    {
        public static void Run(Runner r, string url, int connections, double seconds)
        {
            var client = new BridgeClient(url, Protocol.CoordsUnity)
            {
                MinReconnectDelay = TimeSpan.FromSeconds(0.2),
                MaxReconnectDelay = TimeSpan.FromSeconds(1),
            };
            long lastIndex = -1, frames = 0, hellos = 0, framesAfterReconnect = 0;
            bool sawError = false;
            FrameMessage last = null;
            var clock = Stopwatch.StartNew();
            client.Start();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                HelloMessage hello;
                if (client.TryTakeHello(out hello)) hellos++;
                FrameMessage frame;
                if (client.TryTakeFrame(out frame))
                {
                    frames++;
                    if (hellos >= connections) framesAfterReconnect++;
                    if (frame.Index <= lastIndex && hellos < 2) throw new Exception("index went backwards");
                    lastIndex = frame.Index;
                    last = frame;
                }
                string line;
                while (client.TryTakeLog(out line))
                {
                    Console.WriteLine("client: " + line);
                    if (line.StartsWith("cannot reach")) sawError = true;
                }
                if (hellos >= connections && framesAfterReconnect >= 5) break;
                Thread.Sleep(5);
            }
            var stopClock = Stopwatch.StartNew();
            client.Stop();
            double stopSeconds = stopClock.Elapsed.TotalSeconds;
            Console.WriteLine("live: " + hellos + " connections, " + frames + " frames taken, " + client.FramesReceived +
                              " received, " + client.FramesReplaced + " replaced, stop took " + stopSeconds.ToString("F3") + " s");

            r.Run("live: connection refused is reported, then retried", () => Assert.True(sawError, "no 'cannot reach' log line"));
            r.Run("live: connected and reconnected after the server restarted",
                () => Assert.True(hellos >= connections, "hellos: " + hellos + " of " + connections));
            r.Run("live: frames arrive on every connection", () => Assert.True(framesAfterReconnect >= 5, "frames after reconnect: " + framesAfterReconnect));
            r.Run("live: the frame is in Unity coords, as sent", () =>
            {
                Assert.True(last != null, "no frame");
                Assert.Equal("unity", last.Coords, "coords");
                // live_server.py publishes Head = internal (0, 0.6, 0, 0.8): Unity (0, -0.6, 0, 0.8).
                Quat head;
                Assert.True(last.TryGetBone("Head", out head), "Head present");
                Assert.Near(-0.6, head.y, 1e-6, "Head.y");
                Assert.Near(0.8, head.w, 1e-6, "Head.w");
                Assert.True(last.Head != null && Math.Abs(last.Head.Position.x + 0.25) < 1e-6, "head.position.x = -0.25");
                float blink;
                Assert.True(last.TryGetBlendshape("Blink_L", out blink) && Math.Abs(blink - 0.5f) < 1e-6, "Blink_L = 0.5");
            });
            r.Run("live: stop is prompt", () => Assert.True(stopSeconds < 2.5, "stop took " + stopSeconds + " s"));
            r.Run("live: state after stop", () => Assert.Equal(BridgeState.Stopped, client.State, "state"));
        }
    }
}
