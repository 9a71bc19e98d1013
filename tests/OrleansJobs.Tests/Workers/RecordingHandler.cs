using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace OrleansJobs.Tests.Workers;

/// <summary>One request a worker sent: its path, its JSON body and when it went out.</summary>
public sealed record RecordedRequest(string Path, string Body, long Timestamp);

/// <summary>What <see cref="RecordingHandler"/> does to a request instead of passing it on untouched.</summary>
public enum RequestFault
{
    None = 0,

    /// <summary>Answer 503 without passing the request on (a server that is briefly unavailable).</summary>
    ServiceUnavailable = 1,

    /// <summary>Pass the request on, then lose the answer (the connection dropped after the server took it).</summary>
    LoseAnswer = 2,
}

/// <summary>Sits between a worker and the real API: records every request, and fails the ones a test picks.</summary>
public sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    /// <summary>Picks the fault for each request; none by default.</summary>
    public Func<RecordedRequest, RequestFault>? Faults { get; set; }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public int Claims => _requests.Count(r => r.Path == "/api/workers/claim");

    /// <summary>The reports of one kind (progress, complete, release...) sent for <paramref name="jobId"/>.</summary>
    public IReadOnlyList<RecordedRequest> Reports(string jobId, string kind) =>
        [.. _requests.Where(r => r.Path == $"/api/jobs/{jobId}/{kind}")];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var recorded = new RecordedRequest(request.RequestUri!.AbsolutePath, body, Stopwatch.GetTimestamp());
        _requests.Enqueue(recorded);
        var fault = Faults?.Invoke(recorded) ?? RequestFault.None;
        if (fault == RequestFault.ServiceUnavailable)
        {
            return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request, Content = new StringContent("") };
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (fault == RequestFault.LoseAnswer)
        {
            response.Dispose();
            throw new HttpRequestException("the answer was lost (test fault)");
        }

        return response;
    }
}
