using System.Net;
using System.Net.Sockets;

namespace OrleansJobs.Harness;

/// <summary>Loopback ports nobody listens on, for the processes a test starts.</summary>
public static class FreePort
{
    private static readonly HashSet<int> Handed = [];

    public static int Next()
    {
        lock (Handed)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                // Never hand out the same port twice in one run, even after its first user closed it.
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
