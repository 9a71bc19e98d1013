using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansJobs.Workers.Http;

namespace OrleansJobs.Workers;

/// <summary>
/// Runs jobs of external types over the OrleansJobs REST API: claims a job, runs the handler under
/// the job's lease (heartbeats in the background), and reports how it ended. Returning from the
/// handler completes the job; throwing fails the attempt; a stop gives the job back with its last
/// checkpoint; a lost lease cancels the handler and reports nothing more.
/// </summary>
public sealed class JobWorker : IAsyncDisposable
{
    private const string StopReason = "the worker stopped";

    private readonly JobWorkerOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly WorkerApiClient _api;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _disposing = new();
    private TaskCompletionSource? _running;
    private int _disposed;

    /// <summary>Creates a worker; nothing is sent before <see cref="RunAsync"/>.</summary>
    /// <param name="options">Who the worker is and what it runs.</param>
    /// <param name="httpClient">The client to send requests with (its handlers, proxy, certificates); null: a client of the worker's own, disposed with it.</param>
    /// <param name="logger">Where claims, lost leases, retries and failures are logged; null: nowhere.</param>
    public JobWorker(JobWorkerOptions options, HttpClient? httpClient = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(httpClient);
        _options = options;
        _ownsHttp = httpClient is null;
        // A worker runs for days: pooled connections are renewed so that a moved API host (DNS) is found again.
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
        _api = new WorkerApiClient(_http, options.BaseAddress ?? httpClient!.BaseAddress!, options.ApiKey, options.TimeProvider);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Claims and runs jobs until <paramref name="stoppingToken"/> fires (or the worker is disposed),
    /// at most <see cref="JobWorkerOptions.MaxConcurrentJobs"/> at once. When nothing waits, the
    /// claims back off from <see cref="JobWorkerOptions.MinClaimDelay"/> to <see cref="JobWorkerOptions.MaxClaimDelay"/>;
    /// a failing API is retried the same way. On stop, claims end and each handler's token is
    /// cancelled; a handler that then throws <see cref="OperationCanceledException"/> has its job
    /// released with its last checkpoint. Returns once every handler has returned and its job's last report went out.
    /// </summary>
    /// <param name="handler">Runs one job: return when it is done; throw to fail the attempt; stop at a safe point when the token fires.</param>
    /// <param name="stoppingToken">Stops the worker gracefully.</param>
    /// <exception cref="WorkerApiException">The API refused the claim as invalid (an unknown type, a lease outside the type's range): a configuration error.</exception>
    public async Task RunAsync(Func<WorkerJob, CancellationToken, Task> handler, CancellationToken stoppingToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _running, running, null) is not null)
        {
            throw new InvalidOperationException("The worker is already running.");
        }

        try
        {
            await RunUntilStoppedAsync(handler, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, null);
            running.SetResult();
        }
    }

    /// <summary>Stops the worker as <see cref="RunAsync"/>'s token does, and waits until it has stopped (handlers returned, heartbeats ended).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _running) is { } running)
        {
            await running.Task.ConfigureAwait(false);
        }

        _disposing.Dispose();
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task RunUntilStoppedAsync(Func<WorkerJob, CancellationToken, Task> handler, CancellationToken stoppingToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _disposing.Token);
        using var slots = new SemaphoreSlim(_options.MaxConcurrentJobs);
        var jobs = new List<Task>();
        try
        {
            await ClaimLoopAsync(handler, slots, jobs, stop).ConfigureAwait(false);
        }
        finally
        {
            // A refused claim ends the worker too: its jobs stop as on a stop, and are given back.
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(jobs).ConfigureAwait(false);
            _logger.LogInformation("Worker {WorkerId} stopped", _options.WorkerId);
        }
    }

    private async Task ClaimLoopAsync(Func<WorkerJob, CancellationToken, Task> handler, SemaphoreSlim slots, List<Task> jobs, CancellationTokenSource stop)
    {
        var backoff = new Backoff(_options.MinClaimDelay, _options.MaxClaimDelay);
        var body = new ClaimBody(_options.WorkerId, _options.Types.Count > 0 ? _options.Types : null, _options.LeaseDuration?.TotalSeconds, _options.Device);
        _logger.LogInformation("Worker {WorkerId} claiming jobs of {Claims}", _options.WorkerId,
            _options.Device is { } device ? $"device {device}" : string.Join(", ", _options.Types));
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await slots.WaitAsync(stop.Token).ConfigureAwait(false);
                var sentAt = _options.TimeProvider.GetTimestamp();
                // Not cancelled by a stop: a claim cut off after the API took it would leave a job leased to no one until its lease lapsed.
                var answer = await _api.PostAsync("api/workers/claim", body, WireJson.Default.ClaimBody, _options.RequestTimeout, CancellationToken.None)
                    .ConfigureAwait(false);
                var claimed = Claimed(answer);
                if (claimed is null)
                {
                    slots.Release();
                    await Task.Delay(backoff.Next(), _options.TimeProvider, stop.Token).ConfigureAwait(false);
                    continue;
                }

                backoff.Reset();
                jobs.RemoveAll(job => job.IsCompleted);
                jobs.Add(Task.Run(() => RunJobAsync(claimed, sentAt, handler, slots, stop.Token), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The claimed job; null when none waits or the API failed (logged); throws when the claim is refused as invalid.</summary>
    private ClaimedJob? Claimed(ApiAnswer answer)
    {
        if (answer.Status == HttpStatusCode.NoContent)
        {
            return null;
        }

        if (answer.IsOk)
        {
            try
            {
                return JsonSerializer.Deserialize(answer.Body!, WireJson.Default.ClaimedJob) is { JobId.Length: > 0, LeaseToken.Length: > 0, LeaseSeconds: > 0 } job
                    ? job
                    : throw new JsonException("the claim's answer lacks a job id, lease token or lease duration");
            }
            catch (JsonException ex)
            {
                // Not this worker's to fix: the lease lapses and the job goes back to the queue.
                _logger.LogError(ex, "Worker {WorkerId}: the claim's answer could not be read", _options.WorkerId);
                return null;
            }
        }

        if (answer.IsTransient)
        {
            _logger.LogWarning("Worker {WorkerId}: claim failed ({Answer}); trying again after a back-off", _options.WorkerId, answer.Describe());
            return null;
        }

        if (_options.Device is not null && answer.Problem()?.Errors is { Count: 1 } errors && errors.ContainsKey("workerId"))
        {
            // The device is Offline or served by another agent: that changes once this agent heartbeats it (or the other goes silent).
            _logger.LogWarning("Worker {WorkerId}: device {Device} is not this agent's now ({Answer}); trying again after a back-off",
                _options.WorkerId, _options.Device, answer.Describe());
            return null;
        }

        throw new WorkerApiException(answer.Status!.Value, $"The claim of worker {_options.WorkerId} was refused: {answer.Describe()}");
    }

    private async Task RunJobAsync(ClaimedJob claimed, long claimSentAt, Func<WorkerJob, CancellationToken, Task> handler, SemaphoreSlim slots, CancellationToken stop)
    {
        using var lease = new JobLease(claimed, claimSentAt, _api, _options, _logger);
        var job = lease.Job;
        try
        {
            if (stop.IsCancellationRequested)
            {
                await lease.ReleaseAsync(StopReason).ConfigureAwait(false);
                return;
            }

            _logger.LogInformation("Worker {WorkerId} claimed job {JobId} ({Type}, attempt {Attempt}, resuming after {Cursor})",
                _options.WorkerId, job.Id, job.Type, job.Attempt, job.Checkpoint.Cursor ?? "the start");
            var error = await RunHandlerAsync(lease, handler, stop).ConfigureAwait(false);
            if (lease.IsLost)
            {
                _logger.LogInformation("Job {JobId}: handler ended after the lease was lost ({Reason}); nothing reported", job.Id, lease.LostReason);
            }
            else if (error is null)
            {
                if (await lease.CompleteAsync().ConfigureAwait(false))
                {
                    _logger.LogInformation("Job {JobId} completed", job.Id);
                }
            }
            else if (error is OperationCanceledException && stop.IsCancellationRequested)
            {
                if (await lease.ReleaseAsync(StopReason).ConfigureAwait(false))
                {
                    _logger.LogInformation("Job {JobId} released at its last checkpoint: {Reason}", job.Id, StopReason);
                }
            }
            else
            {
                _logger.LogWarning(error, "Job {JobId}: attempt {Attempt} failed", job.Id, job.Attempt);
                await lease.FailAsync(string.IsNullOrWhiteSpace(error.Message) ? error.GetType().Name : error.Message).ConfigureAwait(false);
            }
        }
        catch (WorkerApiException ex)
        {
            _logger.LogError(ex, "Job {JobId}: its last report was refused; its lease will lapse", job.Id);
        }
        finally
        {
            await lease.WaitForLostCallbacksAsync().ConfigureAwait(false);
            slots.Release();
        }
    }

    /// <summary>Runs the handler with heartbeats in the background; returns what it threw, or null.</summary>
    private static async Task<Exception?> RunHandlerAsync(JobLease lease, Func<WorkerJob, CancellationToken, Task> handler, CancellationToken stop)
    {
        using var heartbeats = new CancellationTokenSource();
        var keeping = lease.KeepAsync(heartbeats.Token);
        try
        {
            using var handlerToken = CancellationTokenSource.CreateLinkedTokenSource(stop, lease.LostToken);
            await handler(lease.Job, handlerToken.Token).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            await heartbeats.CancelAsync().ConfigureAwait(false);
            await keeping.ConfigureAwait(false);
        }
    }
}
