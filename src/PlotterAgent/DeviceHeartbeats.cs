using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace OrleansJobs.PlotterAgent;

/// <summary>
/// The device's side of the protocol: registers the plotter, then heartbeats it every interval while
/// it is plugged in, and answers the check an operator asked for in the heartbeat after the one that
/// brought the request. Failures are logged and tried again on the next beat; they never end the agent.
/// </summary>
public sealed class DeviceHeartbeats(HttpClient http, AgentOptions options, DeviceLink link, ILogger logger)
{
    public const string Kind = "plotter";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private static readonly TimeSpan MaxRegisterDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CheckMoves = TimeSpan.FromMilliseconds(60);

    private readonly TimeSpan _requestTimeout = TimeSpan.FromSeconds(Math.Clamp(options.HeartbeatTimeoutSeconds / 2.0, 1, 5));
    private CheckAnswer? _answer; // sent with every heartbeat until one is taken
    private string? _checked;
    private int _failures;

    /// <summary>Registers the device, trying again while the API cannot be reached; false when the API refuses the definition as invalid.</summary>
    public async Task<bool> RegisterAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var body = new RegisterBody(options.Device, Kind, options.Name, options.HeartbeatTimeoutSeconds);
        while (true)
        {
            string failure;
            try
            {
                using var response = await PostAsync("api/devices", body, cancellationToken);
                switch (response.StatusCode)
                {
                    case HttpStatusCode.Created:
                        logger.LogInformation("Registered device {Device} (kind {Kind}, \"{Name}\", heartbeat timeout {Timeout} s)",
                            options.Device, Kind, options.Name, options.HeartbeatTimeoutSeconds);
                        return true;
                    case HttpStatusCode.OK:
                        logger.LogInformation("Device {Device} was registered already, with this definition", options.Device);
                        return true;
                    case HttpStatusCode.Conflict:
                        // Someone changed it (a name, a timeout): the device as registered is still this plotter.
                        logger.LogWarning("Device {Device} is registered with a different definition; going on with it as registered: {Answer}",
                            options.Device, await response.Content.ReadAsStringAsync(cancellationToken));
                        return true;
                    case >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError and not HttpStatusCode.RequestTimeout and not HttpStatusCode.TooManyRequests:
                        logger.LogError("Registering device {Device} was refused: {Status} {Answer}",
                            options.Device, (int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
                        return false;
                    default:
                        failure = $"{(int)response.StatusCode} {response.ReasonPhrase}";
                        break;
                }
            }
            catch (HttpRequestException ex)
            {
                failure = ex.Message;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = $"no answer within {_requestTimeout.TotalSeconds:0.#} s";
            }

            logger.LogWarning("Registering device {Device} failed ({Failure}); trying again in {Delay} ms", options.Device, failure, (int)delay.TotalMilliseconds);
            await Task.Delay(delay, cancellationToken);
            delay = delay * 2 < MaxRegisterDelay ? delay * 2 : MaxRegisterDelay;
        }
    }

    /// <summary>Heartbeats every interval until <paramref name="cancellationToken"/> fires; an unplugged device sends none.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        try
        {
            do
            {
                if (link.IsConnected)
                {
                    await BeatAsync(cancellationToken);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        var answer = _answer;
        string failure;
        try
        {
            using var response = await PostAsync($"api/devices/{options.Device}/heartbeat", new HeartbeatBody(options.Agent, answer), cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                if (_failures > 0)
                {
                    logger.LogInformation("Heartbeats of device {Device} get through again, after {Failures} failed", options.Device, _failures);
                    _failures = 0;
                }

                if (answer is not null)
                {
                    _answer = null;
                    logger.LogInformation("Check {CheckId} answered: {Detail}", answer.Id, answer.Detail);
                }

                var beat = await response.Content.ReadFromJsonAsync<HeartbeatAnswer>(Json, cancellationToken);
                if (beat?.CheckRequested is { } check && check != _checked)
                {
                    _checked = check;
                    _answer = await CheckAsync(check, cancellationToken);
                }

                return;
            }

            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                logger.LogWarning("Device {Device} is not registered (removed?): registering it again", options.Device);
                await RegisterAsync(cancellationToken);
                return;
            }

            failure = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
        }
        catch (HttpRequestException ex)
        {
            failure = ex.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = $"no answer within {_requestTimeout.TotalSeconds:0.#} s";
        }

        // Once a second for as long as the API is down would bury everything else: the first failure, then every tenth.
        if (_failures++ % 10 == 0)
        {
            logger.LogWarning("Heartbeat of device {Device} failed ({Failure}); {Failures} in a row, trying again every {Interval} ms",
                options.Device, failure, _failures, (int)options.HeartbeatInterval.TotalMilliseconds);
        }
    }

    /// <summary>Lifts and lowers the pen and sends the carriage home (simulated), timing it.</summary>
    private async Task<CheckAnswer> CheckAsync(string id, CancellationToken cancellationToken)
    {
        logger.LogInformation("Check {CheckId} requested: moving the pen and the carriage", id);
        var clock = Stopwatch.StartNew();
        await Task.Delay(CheckMoves * options.StrokeMsScale, cancellationToken);
        return new CheckAnswer(id, true, $"pen up/down and carriage home in {clock.ElapsedMilliseconds} ms");
    }

    private async Task<HttpResponseMessage> PostAsync<T>(string path, T body, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_requestTimeout);
        return await http.PostAsJsonAsync(new Uri(path, UriKind.Relative), body, Json, deadline.Token);
    }

    private sealed record RegisterBody(string Id, string Kind, string Name, int HeartbeatTimeoutSeconds);

    private sealed record HeartbeatBody(string AgentId, CheckAnswer? Check);

    private sealed record CheckAnswer(string Id, bool Ok, string Detail);

    private sealed record HeartbeatAnswer(string? CheckRequested);
}
