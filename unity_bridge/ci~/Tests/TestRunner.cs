// A tiny test runner for the bridge's protocol core under Mono (no NUnit in Debian's minimal mono).
//   mono CoreTests.exe MESSAGES_DIR                 unit tests + the engine-emitted messages
//   mono CoreTests.exe --live URL CONNECTIONS SECS  BridgeClient against a running engine server
//   mono CoreTests.exe --live-drops URL DROPS SECS  the server drops working connections (tests/unity_bridge)
// Prints every failure and "N passed, N failed"; exit code 1 on any failure.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Vtuber.Bridge.Tests
{
    public sealed class AssertionFailed : Exception
    {
        public AssertionFailed(string message) : base(message) { }
    }

    public static class Assert
    {
        public static void True(bool condition, string what)
        {
            if (!condition) throw new AssertionFailed(what);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new AssertionFailed(what + ": expected <" + expected + ">, got <" + actual + ">");
        }

        public static void Near(double expected, double actual, double tolerance, string what)
        {
            if (!(Math.Abs(expected - actual) <= tolerance))
                throw new AssertionFailed(string.Format(CultureInfo.InvariantCulture,
                    "{0}: expected {1:R}, got {2:R} (tolerance {3})", what, expected, actual, tolerance));
        }

        public static TException Throws<TException>(Action action, string what) where TException : Exception
        {
            try
            {
                action();
            }
            catch (TException e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionFailed(what + ": expected " + typeof(TException).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionFailed(what + ": expected " + typeof(TException).Name + ", nothing was thrown");
        }
    }

    public sealed class Runner
    {
        int _passed, _failed;

        public void Run(string name, Action test)
        {
            try
            {
                test();
                _passed++;
            }
            catch (Exception e)
            {
                _failed++;
                string detail = e is AssertionFailed ? e.Message : e.GetType().Name + ": " + e.Message + "\n" + e.StackTrace;
                Console.WriteLine("FAIL " + name + ": " + detail);
            }
        }

        public int Finish()
        {
            Console.WriteLine(_passed + " passed, " + _failed + " failed");
            return _failed == 0 && _passed > 0 ? 0 : 1;
        }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            var runner = new Runner();
            if (args.Length == 4 && args[0] == "--live")
            {
                LiveTests.Run(runner, args[1], int.Parse(args[2], CultureInfo.InvariantCulture),
                              double.Parse(args[3], CultureInfo.InvariantCulture));
            }
            else if (args.Length == 4 && args[0] == "--live-drops")
            {
                LiveTests.RunDrops(runner, args[1], int.Parse(args[2], CultureInfo.InvariantCulture),
                                   double.Parse(args[3], CultureInfo.InvariantCulture));
            }
            else if (args.Length == 1)
            {
                CoreTests.Run(runner);
                EngineMessageTests.Run(runner, args[0]);
            }
            else
            {
                Console.WriteLine("usage: CoreTests.exe MESSAGES_DIR | --live URL CONNECTIONS SECONDS | --live-drops URL DROPS SECONDS");
                return 2;
            }
            return runner.Finish();
        }
    }
}
