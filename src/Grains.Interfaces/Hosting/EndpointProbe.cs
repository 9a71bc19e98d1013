using System.Net;
using System.Net.Sockets;

namespace OrleansJobs.Hosting;

/// <summary>What a connection attempt to a silo endpoint found.</summary>
public enum EndpointAnswer
{
    /// <summary>A process listens there.</summary>
    Accepted,

    /// <summary>The host answered that nothing listens on the port: proof that no silo runs there.</summary>
    Refused,

    /// <summary>No answer in time, or another network error: suspicion at most, never proof.</summary>
    Silent,
}

/// <summary>Connection attempts to silo endpoints, telling a refusal (proof) apart from silence (suspicion).</summary>
public static class EndpointProbe
{
    /// <summary>Connects to <paramref name="endpoint"/>; on <see cref="EndpointAnswer.Accepted"/> the caller owns the returned socket.</summary>
    public static async Task<(EndpointAnswer Answer, Socket? Socket)> ConnectAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, limit.Token);
            return (EndpointAnswer.Accepted, socket);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            socket.Dispose();
            return (EndpointAnswer.Refused, null);
        }
        catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            socket.Dispose();
            return (EndpointAnswer.Silent, null);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether the endpoint refuses connections (a connection that succeeds is closed at once).</summary>
    public static async Task<bool> RefusesAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (answer, socket) = await ConnectAsync(endpoint, timeout, cancellationToken);
        socket?.Dispose();
        return answer == EndpointAnswer.Refused;
    }
}
