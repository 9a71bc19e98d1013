namespace OrleansJobs.PlotterAgent;

/// <summary>Fails every request of the agent while its <see cref="DeviceLink"/> is unplugged, as a pulled cable would: no byte goes out.</summary>
public sealed class LinkHandler(DeviceLink link) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        link.IsConnected
            ? base.SendAsync(request, cancellationToken)
            : Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "the device is unplugged (simulated): no request goes out"));
}
