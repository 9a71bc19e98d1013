using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd.Events;

/// <summary>One server-sent event as a client parses it.</summary>
public sealed record SseEvent(string Event, string? Id, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    public long EventId => long.Parse(Id!, System.Globalization.CultureInfo.InvariantCulture);

    public string JobId => Json.GetProperty("jobId").GetString()!;
}

/// <summary>
/// A client of an event stream: reads it in the background (or, for a slow client, not until told),
/// keeping every event; <see cref="Ended"/> completes when the server ends the stream.
/// </summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly List<SseEvent> _events = [];
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _reading;

    private SseStream(HttpClient http, HttpResponseMessage response)
    {
        _http = http;
        _response = response;
    }

    public Task Ended => _ended.Task;

    public IReadOnlyList<SseEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>The journal events received (those with an id).</summary>
    public IReadOnlyList<SseEvent> Journal => [.. Events.Where(e => e.Id is not null && e.Event == "journal")];

    /// <summary>
    /// Opens <paramref name="path"/> on <paramref name="api"/> with <paramref name="key"/> (the admin key by default); with
    /// <paramref name="read"/> false nothing is read until <see cref="StartReading"/> (a client whose socket buffer is tiny).
    /// </summary>
    public static async Task<SseStream> OpenAsync(ApiHostProcess api, string path, string? lastEventId = null, bool read = true, string? key = null)
    {
        var handler = new SocketsHttpHandler();
        if (!read)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            };
        }

        var http = ApiKeys.Authorize(new HttpClient(handler) { BaseAddress = api.BaseAddress, Timeout = Timeout.InfiniteTimeSpan }, key ?? api.AdminKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        if (!response.IsSuccessStatusCode)
        {
            Assert.Fail($"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = new SseStream(http, response);
        if (read)
        {
            stream.StartReading();
        }

        return stream;
    }

    public void StartReading() => _reading ??= ReadAsync();

    /// <summary>Waits until the events received satisfy <paramref name="done"/>.</summary>
    public Task WaitForAsync(string what, Func<IReadOnlyList<SseEvent>, bool> done, TimeSpan? timeout = null) =>
        Wait.UntilAsync(what, () => Task.FromResult(done(Events)), timeout ?? TimeSpan.FromSeconds(60),
            () => Task.FromResult($"{Events.Count} events, the last: {(Events is [.., var last] ? last : null)}"));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_reading is not null)
        {
            await _reading;
        }

        _response.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        try
        {
            await using var body = await _response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(body, Encoding.UTF8);
            string? kind = null, id = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        lock (_events)
                        {
                            _events.Add(new SseEvent(kind ?? "message", id, data.ToString()));
                        }
                    }

                    kind = id = null;
                    data.Clear();
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    kind = line[7..];
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line[6..]);
                }
            }

            _ended.TrySetResult();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            _ended.TrySetResult(); // disposed, or the server went away
        }
    }
}
