using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Membership;

namespace OrleansJobs.Jobs.Runs;

/// <summary>
/// The context of one run, used from the handler's thread. Progress and messages live here
/// (the grain reads them for status queries); checkpoints go to the grain as calls carrying
/// the run's epoch.
/// </summary>
internal sealed class JobRunContext : IJobContext, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _handlerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _atItemBoundary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IJobRunReports _grain;
    private readonly CheckpointPolicy _policy;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly JobMessageLog _messages;
    private readonly SiloLiveness? _liveness;
    private readonly CancellationTokenRegistration _onSiloDead;
    private readonly CancellationTokenRegistration _onSiloStopping;
    private string? _cursor;
    private Dictionary<string, long> _counters;
    private long _itemsSinceCheckpoint;
    private long _lastCheckpointAt;
    private bool _handingOver;
    private bool _checkpointing;
    private int _failedCheckpoints; // in a row: the grain could not store them (database away)
    private long _retryCheckpointAt; // timestamp before which a failed checkpoint is not tried again
    private readonly Lock _effectLock = new();
    private bool _aborted; // set under _effectLock: no effect section may begin after it
    private int _openEffects;
    private TaskCompletionSource? _effectsLeft;
    private Func<CancellationToken, Task>? _beforeCheckpoint;
    private JobCheckpoint? _flushed; // with a flush registered: where the last successful flush left the run

    public JobRunContext(
        string jobId, int attempt, long epoch, JsonElement parameters, JobCheckpoint checkpoint, JobProgress progress,
        IEnumerable<JobMessage> messages, CheckpointPolicy policy, IJobRunReports grain, TimeProvider time, SiloLiveness? liveness = null,
        string? libraryId = null)
    {
        JobId = jobId;
        LibraryId = libraryId;
        Attempt = attempt;
        Epoch = epoch;
        Parameters = parameters;
        Checkpoint = checkpoint;
        _grain = grain;
        _policy = policy;
        _time = time;
        _cursor = checkpoint.Cursor;
        _counters = new Dictionary<string, long>(checkpoint.Counters);
        Progress = new JobProgressTracker(checkpoint.Processed, progress.Total);
        _messages = new JobMessageLog(time: time);
        foreach (var message in messages)
        {
            _messages.Add(message.Level, message.Text);
        }

        _lastCheckpointAt = time.GetTimestamp();
        _liveness = liveness;
        // A silo that learns it was declared dead stops its runs at once, mid-item.
        _onSiloDead = liveness?.DeclaredDead.Register(static run => ((JobRunContext)run!).Abort(), this) ?? default;
        // A stopping silo: the run stops at its next item boundary, and its grain's hand-over takes the checkpoint.
        _onSiloStopping = liveness?.Stopping.Register(static run => ((JobRunContext)run!).RequestStop(), this) ?? default;
    }

    /// <summary>Longest wait between tries of a checkpoint the grain could not store.</summary>
    public static readonly TimeSpan MaxCheckpointBackoff = TimeSpan.FromSeconds(10);

    public string JobId { get; }

    public string? LibraryId { get; }

    public int Attempt { get; }

    public long Epoch { get; }

    public JsonElement Parameters { get; }

    public JobCheckpoint Checkpoint { get; }

    public CancellationToken StopRequested => _stop.Token;

    public CancellationToken Aborted => _abort.Token;

    public JobProgressTracker Progress { get; }

    public IReadOnlyList<JobMessage> Messages => _messages.Snapshot();

    /// <summary>Called with each message the run leaves from now on (live message events).</summary>
    public Action<JobMessage>? MessageAdded
    {
        set => _messages.Added = value;
    }

    /// <summary>Completes when the handler has returned or thrown (before the run reports its end to the grain).</summary>
    public Task HandlerEnded => _handlerEnded.Task;

    /// <summary>
    /// Completes once the run, asked to hand over, stands at an item boundary: its handler has ended,
    /// or it waits for the grain to store a checkpoint (which a deactivating grain cannot do; it
    /// takes the checkpoint from <see cref="Current"/> itself).
    /// </summary>
    public Task AtItemBoundary => _atItemBoundary.Task;

    /// <summary>The grain took over the run's end itself (a hand-over): the run must not report it.</summary>
    public bool HandedOver
    {
        get
        {
            lock (_lock)
            {
                return _handingOver;
            }
        }
    }

    public void MarkHandlerEnded()
    {
        _handlerEnded.TrySetResult();
        _atItemBoundary.TrySetResult();
    }

    public void RequestStop() => Cancel(_stop);

    /// <summary>The grain is going away: from now on the run must not call it (the call would wait for the deactivation).</summary>
    public void HandOver()
    {
        lock (_lock)
        {
            _handingOver = true;
            if (_checkpointing)
            {
                _atItemBoundary.TrySetResult();
            }
        }

        Cancel(_stop);
    }

    public void Abort()
    {
        lock (_effectLock)
        {
            _aborted = true;
        }

        Cancel(_stop);
        Cancel(_abort);
    }

    public void BeforeCheckpoint(Func<CancellationToken, Task> flush) => _beforeCheckpoint = flush;

    /// <summary>Runs the registered <see cref="BeforeCheckpoint"/> flush, if any; what it covered becomes <see cref="Current"/>.</summary>
    public async Task FlushAsync()
    {
        if (_beforeCheckpoint is not { } flush)
        {
            return;
        }

        JobCheckpoint covered;
        lock (_lock)
        {
            covered = new JobCheckpoint(_cursor, Progress.Snapshot().Processed, new Dictionary<string, long>(_counters));
        }

        await flush(_abort.Token);
        lock (_lock)
        {
            _flushed = covered;
        }
    }

    public async ValueTask<IDisposable> BeginEffectAsync()
    {
        if (_liveness is not null)
        {
            // A silo that was frozen must first learn whether it is still a member.
            await _liveness.EnsureAliveAsync(_abort.Token);
        }

        lock (_effectLock)
        {
            if (_aborted)
            {
                throw new JobRunSupersededException(JobId, Epoch);
            }

            _openEffects++;
        }

        return new EffectSection(this);
    }

    /// <summary>Completes once no effect section is open (after <see cref="Abort"/>, none opens any more).</summary>
    public Task EffectsLeft()
    {
        lock (_effectLock)
        {
            if (_openEffects == 0)
            {
                return Task.CompletedTask;
            }

            _effectsLeft ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _effectsLeft.Task;
        }
    }

    private void LeaveEffect()
    {
        lock (_effectLock)
        {
            if (--_openEffects == 0)
            {
                _effectsLeft?.TrySetResult();
                _effectsLeft = null;
            }
        }
    }

    private sealed class EffectSection(JobRunContext run) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                run.LeaveEffect();
            }
        }
    }

    public async ValueTask ItemDoneAsync(string cursor, IReadOnlyDictionary<string, long>? counters = null)
    {
        if (_liveness is not null)
        {
            // Before the next item: a silo that was frozen must first learn whether it is still a member.
            await _liveness.EnsureAliveAsync(_abort.Token);
        }

        JobCheckpoint? due = null;
        var processed = Progress.AddProcessed();
        lock (_lock)
        {
            _cursor = cursor;
            if (counters is not null)
            {
                _counters = new Dictionary<string, long>(counters);
            }

            _itemsSinceCheckpoint++;
            if (_policy.IsDue(_itemsSinceCheckpoint, _time.GetElapsedTime(_lastCheckpointAt))
                && (_failedCheckpoints == 0 || _time.GetTimestamp() >= _retryCheckpointAt) && !_handingOver
                && (_liveness is null || _liveness.TryEnterRunCall()))
            {
                _checkpointing = true;
                due = new JobCheckpoint(_cursor, processed, new Dictionary<string, long>(_counters));
                _itemsSinceCheckpoint = 0;
                _lastCheckpointAt = _time.GetTimestamp();
            }
        }

        if (due is not null)
        {
            bool stored;
            try
            {
                // What the checkpoint claims must be durable first.
                await FlushAsync();
                stored = await _grain.CheckpointAsync(Epoch, due, Progress.Snapshot(), Messages);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !_abort.IsCancellationRequested)
            {
                // Not stored (the database is away, the call timed out): the handler keeps going and the
                // checkpoint is tried again at a later item boundary, backing off. Should the run be lost
                // meanwhile, recovery redoes the items since the last stored checkpoint.
                lock (_lock)
                {
                    _failedCheckpoints++;
                    var backoff = TimeSpan.FromMilliseconds(Math.Min(MaxCheckpointBackoff.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(_failedCheckpoints - 1, 10))));
                    _retryCheckpointAt = _time.GetTimestamp() + (long)(backoff.TotalSeconds * _time.TimestampFrequency);
                    _itemsSinceCheckpoint = Math.Max(_itemsSinceCheckpoint, _policy.EveryItems);
                }

                Log(JobMessageLevel.Warning, $"checkpoint at item {due.Processed} not stored ({ex.GetType().Name}); the run goes on and tries again");
                return;
            }
            finally
            {
                lock (_lock)
                {
                    _checkpointing = false;
                }

                _liveness?.ExitRunCall();
            }

            if (!stored)
            {
                throw new JobRunSupersededException(JobId, Epoch);
            }

            lock (_lock)
            {
                _failedCheckpoints = 0;
            }
        }
    }

    public void Log(JobMessageLevel level, string text) => _messages.Add(level, text);

    /// <summary>
    /// Where the run stands now: what the grain persists when the run ends or is handed over. With a
    /// flush registered, only as far as the last successful flush: items whose buffered effects were
    /// not written yet are not claimed, and run again.
    /// </summary>
    public JobCheckpoint Current()
    {
        lock (_lock)
        {
            return _beforeCheckpoint is null
                ? new JobCheckpoint(_cursor, Progress.Snapshot().Processed, new Dictionary<string, long>(_counters))
                : _flushed ?? Checkpoint;
        }
    }

    public void Dispose()
    {
        _onSiloDead.Dispose();
        _onSiloStopping.Dispose();
        _stop.Dispose();
        _abort.Dispose();
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run already ended.
        }
    }
}
