using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansJobs.Workers.Http;

/// <summary>One HTTP request of the worker API, answered or failed; never throws for the network or the server.</summary>
internal sealed class WorkerApiClient(HttpClient http, Uri baseAddress, string? apiKey, TimeProvider time)
{
    // A base address without a trailing slash would lose its last segment when paths are resolved against it.
    private readonly Uri _baseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");

    public async Task<ApiAnswer> PostAsync<T>(string path, T body, JsonTypeInfo<T> bodyType, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, path)) { Content = JsonContent.Create(body, bodyType) };
            if (apiKey is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            }

            using var response = await http.SendAsync(request, linked.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            return new ApiAnswer(response.StatusCode, text, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ApiAnswer(null, null, new TimeoutException($"no answer within {timeout.TotalSeconds:0.###} s"));
        }
        catch (HttpRequestException ex)
        {
            return new ApiAnswer(null, null, ex);
        }
    }

    public static string JobPath(string jobId, string report) => $"api/jobs/{Uri.EscapeDataString(jobId)}/{report}";
}

/// <summary>What the API answered (status and body), or why nothing came back.</summary>
internal readonly record struct ApiAnswer(HttpStatusCode? Status, string? Body, Exception? Error)
{
    public bool IsOk => Status == HttpStatusCode.OK;

    /// <summary>Worth trying again: no answer, a server error (a grain call that timed out answers 503), or "slow down".</summary>
    public bool IsTransient => Status is null or >= HttpStatusCode.InternalServerError or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    public ProblemBody? Problem()
    {
        if (string.IsNullOrWhiteSpace(Body))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(Body, WireJson.Default.ProblemBody);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The answer in words, for logs and exceptions: the status with the problem's title, detail and field errors.</summary>
    public string Describe()
    {
        if (Status is not { } status)
        {
            return Error?.Message ?? "no answer";
        }

        var problem = Problem();
        var text = $"{(int)status} {problem?.Title ?? status.ToString()}";
        if (problem?.Detail is { Length: > 0 } detail)
        {
            text += $": {detail}";
        }

        if (problem?.Errors is { Count: > 0 } errors)
        {
            text += " (" + string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(", ", e.Value)}")) + ")";
        }

        return text;
    }
}
