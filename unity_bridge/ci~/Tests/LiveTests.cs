// BridgeClient against the engine's real WebSocket server (vtuber.send.websocket), driven by
// unity_bridge/ci~/live_server.py: the server starts after the client (connection refused, then
// backoff), publishes frames, restarts once (the client must reconnect), and keeps publishing.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
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

        /// <summary>Driven by tests/unity_bridge (the engine's real server): the server starts late (the
        /// backoff grows), then drops each of the first DROPS working connections (transport abort, as
        /// for a killed engine or a stalled client, or a 1001 close). The client must reconnect after
        /// MinReconnectDelay, not the grown delay, and log every drop, even when the reason repeats.</summary>
        public static void RunDrops(Runner r, string url, int drops, double seconds)
        {
            var min = TimeSpan.FromSeconds(0.2);
            var client = new BridgeClient(url, Protocol.CoordsUnity) { MinReconnectDelay = min, MaxReconnectDelay = TimeSpan.FromSeconds(5) };
            var hellos = new List<double>();
            var dropTimes = new List<double>();
            var dropLines = new List<string>();
            int cannotReachAfterHello = 0;
            bool connected = false;
            var clock = Stopwatch.StartNew();
            client.Start();
            while (clock.Elapsed.TotalSeconds < seconds && hellos.Count <= drops)
            {
                double now = clock.Elapsed.TotalSeconds;
                HelloMessage hello;
                if (client.TryTakeHello(out hello)) hellos.Add(now);
                if (client.State == BridgeState.Connected) connected = true;
                else if (connected) { dropTimes.Add(now); connected = false; } // the connection ended
                string line;
                while (client.TryTakeLog(out line))
                {
                    Console.WriteLine("client " + now.ToString("F2", CultureInfo.InvariantCulture) + " s: " + line);
                    if (hellos.Count == 0 || line.StartsWith("connected")) continue;
                    if (line.StartsWith("cannot reach")) cannotReachAfterHello++;
                    else dropLines.Add(line);
                }
                Thread.Sleep(5);
            }
            client.Stop();
            Console.WriteLine("live-drops: hellos at [" + Join(hellos) + "] s, drops seen at [" + Join(dropTimes) + "] s");

            r.Run("drops: the backoff grew while the engine was down", () =>
                Assert.True(hellos.Count > 0 && hellos[0] >= 1.5, "first hello at " + Join(hellos) + " s (the server must start >= 1.5 s late)"));
            r.Run("drops: every drop of a working connection is logged, even a repeated reason", () =>
                Assert.Equal(drops, dropLines.Count, "drop log lines"));
            r.Run("drops: a dropped working connection is not reported as 'cannot reach'", () =>
                Assert.Equal(0, cannotReachAfterHello, "'cannot reach' lines after the first hello"));
            r.Run("drops: reconnected after the minimum delay, not the grown one", () =>
            {
                Assert.Equal(drops + 1, hellos.Count, "hellos");
                Assert.True(dropTimes.Count >= drops, "drops seen: " + dropTimes.Count + " of " + drops);
                for (int i = 0; i < drops; i++)
                {
                    double gap = hellos[i + 1] - dropTimes[i];
                    Assert.True(gap < min.TotalSeconds + 1.0, "drop " + (i + 1) + ": next hello " + gap.ToString("F2", CultureInfo.InvariantCulture) +
                                " s later (min delay " + min.TotalSeconds + " s, grown delay >= 1.6 s)");
                }
            });
        }

        static string Join(List<double> values)
        {
            return string.Join(", ", values.ConvertAll(v => v.ToString("F2", CultureInfo.InvariantCulture)));
        }
    }
}
