using System.Net;
using System.Net.Sockets;

namespace OrleansJobs.Harness;

/// <summary>
/// Loopback ports nobody listens on, for the processes a test starts. They are taken from below
/// the kernel's ephemeral range: a port from inside it (what binding port 0 gives) can be taken as
/// the local end of any outgoing connection (a database connection, a silo-to-silo socket) between
/// the moment it is handed out and the moment the started process binds it.
/// </summary>
public static class FreePort
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> Handed = [];
    private static readonly (int Start, int End) Range = ChooseRange();
    private static int _next = Random.Shared.Next(Range.Start, Range.End);

    public static int Next()
    {
        lock (Handed)
        {
            for (var tried = 0; tried < Range.End - Range.Start; tried++)
            {
                var port = _next;
                _next = _next + 1 >= Range.End ? Range.Start : _next + 1;
                // Never hand out the same port twice in one run, even after its first user closed it.
                if (Handed.Contains(port) || !IsFree(port))
                {
                    continue;
                }

                Handed.Add(port);
                return port;
            }

            throw new InvalidOperationException($"no free loopback port in {Range.Start}-{Range.End - 1}");
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The ports from <see cref="Lowest"/> up to the start of the ephemeral range (Linux: ip_local_port_range).</summary>
    private static (int Start, int End) ChooseRange()
    {
        var ephemeralStart = 32_768;
        try
        {
            var text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            ephemeralStart = int.Parse(text[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Not Linux, or not readable: the IANA ephemeral range starts at 49152, Linux's default at 32768.
        }

        return ephemeralStart - Lowest >= 1_000 ? (Lowest, ephemeralStart) : (1_024, ephemeralStart);
    }
}
