using Microsoft.Extensions.Logging;
using OrleansJobs.Workers.Http;

namespace OrleansJobs.Workers;

/// <summary>
/// One claimed job's lease: its reports, sent one at a time and retried while the lease lasts, and
/// the heartbeats that keep it while the handler runs. A 409 (or a lease that lapsed locally) marks
/// it lost once, and nothing more is sent; a terminal report (complete, fail, release) goes out at most once.
/// </summary>
internal sealed partial class JobLease : IDisposable
{
    private const int MaxMessagesPerReport = 100;
    private const int MaxBufferedMessages = 1000;
    private const int MaxTextLength = 4000;

    // Messages wait this long for a progress report to carry them before they go on their own.
    private static readonly TimeSpan MessageDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MinRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MinAttemptTimeout = TimeSpan.FromSeconds(1);

    private readonly WorkerApiClient _api;
    private readonly TimeProvider _time;
    private readonly TimeSpan _requestTimeout;
    private readonly ILogger _logger;
    private readonly string _leaseToken;
    private readonly CancellationTokenSource _lost = new();
    private readonly SemaphoreSlim _reportLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly List<MessageBody> _messages = [];
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _lostCallbacks = Task.CompletedTask;

    // Guarded by _gate.
    private long _extendedAt;
    private long _firstMessageAt;
    private int _droppedMessages;
    private ProgressBody? _lastProgress;
    private WorkerCheckpoint? _lastCheckpoint;
    private WorkerCheckpoint? _finalCheckpoint;
    private bool _ended;
    private string? _lostReason;
    private string? _lostStatus;

    public JobLease(ClaimedJob claim, long claimSentAt, WorkerApiClient api, JobWorkerOptions options, ILogger logger)
    {
        _api = api;
        _time = options.TimeProvider;
        _requestTimeout = options.RequestTimeout;
        _logger = logger;
        _leaseToken = claim.LeaseToken;
        // The API's clock starts the lease when it takes the claim, after this worker sent it: counting from the send is on the safe side.
        _extendedAt = claimSentAt;
        Duration = TimeSpan.FromSeconds(claim.LeaseSeconds);
        HeartbeatInterval = Duration / 3;
        LostToken = _lost.Token;
        Job = new WorkerJob(this, claim.JobId, claim.Type, claim.Parameters, claim.Checkpoint?.ToCheckpoint() ?? WorkerCheckpoint.Start, claim.Attempt);
    }

    private enum Kind
    {
        Heartbeat,
        Progress,
        Messages,
        Complete,
        Fail,
        Release,
    }

    public WorkerJob Job { get; }

    public TimeSpan Duration { get; }

    public TimeSpan HeartbeatInterval { get; }

    public CancellationToken LostToken { get; }

    public bool IsLost => _lost.IsCancellationRequested;

    public string? LostReason
    {
        get
        {
            lock (_gate)
            {
                return _lostReason;
            }
        }
    }

    public async Task ReportProgressAsync(long processed, long? total, WorkerCheckpoint? checkpoint, CancellationToken cancellationToken)
    {
        var progress = new ProgressBody(processed, total);
        lock (_gate)
        {
            // Checked before the token: a handler passing its own (cancelled by the loss) still learns why.
            if (_lostReason is not null)
            {
                throw Lost();
            }

            _lastProgress = progress;
            _lastCheckpoint = checkpoint ?? _lastCheckpoint;
        }

        var body = checkpoint is null ? null : CheckpointBody.From(checkpoint);
        var outcome = await SendAsync(Kind.Progress, messages => new ReportBody(_leaseToken, progress, body, messages), cancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case Outcome.Lost:
                lock (_gate)
                {
                    throw Lost();
                }

            case Outcome.Ended:
                throw new InvalidOperationException($"Job {Job.Id} has ended: its handler returned and its last report went out.");
        }
    }

    public void Log(WorkerMessageLevel level, string text)
    {
        var message = new MessageBody(level switch
        {
            WorkerMessageLevel.Warning => "warning",
            WorkerMessageLevel.Error => "error",
            _ => "info",
        }, WireText.Storable(text, MaxTextLength));
        lock (_gate)
        {
            if (_ended || _lostReason is not null)
            {
                return;
            }

            if (_messages.Count >= MaxBufferedMessages)
            {
                _droppedMessages++;
                return;
            }

            if (_messages.Count == 0)
            {
                _firstMessageAt = _time.GetTimestamp();
            }

            _messages.Add(message);
        }

        Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public void SetFinalCheckpoint(WorkerCheckpoint checkpoint)
    {
        lock (_gate)
        {
            _finalCheckpoint = checkpoint;
        }
    }

    /// <summary>Heartbeats (or messages, when some wait) whenever a third of the lease passed without a report; returns once the lease is lost or <paramref name="stop"/> fires.</summary>
    public async Task KeepAsync(CancellationToken stop)
    {
        try
        {
            while (!IsLost)
            {
                var wake = Volatile.Read(ref _wake).Task;
                var wait = TimeToNextReport();
                if (wait > TimeSpan.Zero)
                {
                    using var delay = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    await Task.WhenAny(wake, Task.Delay(wait, _time, delay.Token)).ConfigureAwait(false);
                    await delay.CancelAsync().ConfigureAwait(false);
                    stop.ThrowIfCancellationRequested();
                    continue;
                }

                try
                {
                    if (await SendAsync(Kind.Heartbeat, messages => new ReportBody(_leaseToken, Messages: messages), stop).ConfigureAwait(false) == Outcome.Ended)
                    {
                        return;
                    }
                }
                catch (WorkerApiException ex)
                {
                    // Nothing a heartbeat carries can be fixed by sending it again soon: wait a beat rather than spin.
                    _logger.LogError(ex, "Heartbeat of job {JobId} refused", Job.Id);
                    await Task.Delay(HeartbeatInterval, _time, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The handler returned: the job is done, with its final checkpoint.</summary>
    public Task<bool> CompleteAsync()
    {
        WorkerCheckpoint? final;
        lock (_gate)
        {
            final = _finalCheckpoint;
        }

        return SendTerminalAsync(Kind.Complete, messages => new ReportBody(
            _leaseToken, Checkpoint: final is null ? null : CheckpointBody.From(final), Messages: messages));
    }

    /// <summary>The handler threw: the attempt failed; the retry resumes from the last checkpoint.</summary>
    public Task<bool> FailAsync(string error)
    {
        var (progress, checkpoint) = Last();
        return SendTerminalAsync(Kind.Fail, messages => new ReportBody(
            _leaseToken, progress, checkpoint, messages, Error: WireText.Storable(error, MaxTextLength)));
    }

    /// <summary>The worker stops: the job goes back to the queue at once, from the last checkpoint, without counting a failed attempt.</summary>
    public Task<bool> ReleaseAsync(string reason)
    {
        var (progress, checkpoint) = Last();
        return SendTerminalAsync(Kind.Release, messages => new ReportBody(
            _leaseToken, progress, checkpoint, messages, Reason: reason));
    }

    public async Task WaitForLostCallbacksAsync()
    {
        try
        {
            await _lostCallbacks.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogWarning(ex, "A callback on the lost lease of job {JobId} threw", Job.Id);
        }
    }

    public void Dispose()
    {
        _lost.Dispose();
        _reportLock.Dispose();
    }

    /// <summary>Called under <see cref="_gate"/>, once the lease is lost.</summary>
    private LeaseLostException Lost() => new(Job.Id, _lostStatus, _lostReason ?? "lost", LostToken);

    private (ProgressBody? Progress, CheckpointBody? Checkpoint) Last()
    {
        lock (_gate)
        {
            return (_lastProgress, _lastCheckpoint is null ? null : CheckpointBody.From(_lastCheckpoint));
        }
    }

    private TimeSpan LeaseRemaining(long now)
    {
        lock (_gate)
        {
            return Duration - _time.GetElapsedTime(_extendedAt, now);
        }
    }

    private TimeSpan TimeToNextReport()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var wait = HeartbeatInterval - _time.GetElapsedTime(_extendedAt, now);
            if (_messages.Count > 0 || _droppedMessages > 0)
            {
                var messagesDue = MessageDelay - _time.GetElapsedTime(_firstMessageAt, now);
                wait = messagesDue < wait ? messagesDue : wait;
            }

            return wait;
        }
    }

    private int PendingMessages()
    {
        lock (_gate)
        {
            return _messages.Count + (_droppedMessages > 0 ? 1 : 0);
        }
    }

    /// <summary>Up to one report's worth of the waiting messages, oldest first; null when none wait. Called under <see cref="_gate"/>.</summary>
    private List<MessageBody>? TakeMessages()
    {
        if (_messages.Count == 0 && _droppedMessages == 0)
        {
            return null;
        }

        var taken = new List<MessageBody>(MaxMessagesPerReport);
        if (_droppedMessages > 0)
        {
            taken.Add(new MessageBody("warning", $"{_droppedMessages} messages were dropped: more than {MaxBufferedMessages} waited to be sent"));
            _droppedMessages = 0;
        }

        var count = Math.Min(MaxMessagesPerReport - taken.Count, _messages.Count);
        taken.AddRange(_messages.GetRange(0, count));
        _messages.RemoveRange(0, count);
        _firstMessageAt = _time.GetTimestamp();
        return taken;
    }
}
