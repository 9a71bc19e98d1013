using System.Diagnostics;
using System.Text.Json;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// A job context for running one handler directly in a test: it applies the real
/// <see cref="CheckpointPolicy"/>, keeps every durable checkpoint in order, and lets the test
/// stop, abort or supersede the run at exact item boundaries.
/// </summary>
public sealed class TestJobContext : IJobContext, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly CheckpointPolicy _policy;
    private readonly JobMessageLog _messages = new();
    private readonly Lock _lock = new();
    private readonly List<string> _cursors = [];
    private readonly List<JobCheckpoint> _checkpoints = [];
    private readonly Stopwatch _sinceCheckpoint = Stopwatch.StartNew();
    private long _itemsSinceCheckpoint;
    private Func<CancellationToken, Task>? _beforeCheckpoint;

    public TestJobContext(
        string jobId, string parametersJson, JobCheckpoint? checkpoint = null, int attempt = 1, CheckpointPolicy? policy = null, string? libraryId = null)
    {
        JobId = jobId;
        LibraryId = libraryId;
        Parameters = JsonDocument.Parse(parametersJson).RootElement.Clone();
        Checkpoint = checkpoint ?? JobCheckpoint.Start;
        Attempt = attempt;
        _policy = policy ?? CheckpointPolicy.Default;
        Progress = new JobProgressTracker(Checkpoint.Processed);
    }

    public string JobId { get; }

    public string? LibraryId { get; }

    public int Attempt { get; }

    public JsonElement Parameters { get; }

    public JobCheckpoint Checkpoint { get; }

    public CancellationToken StopRequested => _stop.Token;

    public CancellationToken Aborted => _abort.Token;

    public JobProgressTracker Progress { get; }

    /// <summary>Called after each finished item with its cursor (on the handler's thread).</summary>
    public Action<string>? OnItemDone { get; set; }

    /// <summary>When set, reports are refused as they are for a killed run.</summary>
    public bool Superseded { get; set; }

    public IReadOnlyList<string> Cursors
    {
        get
        {
            lock (_lock)
            {
                return [.. _cursors];
            }
        }
    }

    public IReadOnlyList<JobCheckpoint> Checkpoints
    {
        get
        {
            lock (_lock)
            {
                return [.. _checkpoints];
            }
        }
    }

    public IReadOnlyList<JobMessage> Messages => _messages.Snapshot();

    public void RequestStop() => _stop.Cancel();

    public void Abort() => _abort.Cancel();

    public async ValueTask ItemDoneAsync(string cursor, IReadOnlyDictionary<string, long>? counters = null)
    {
        if (Superseded)
        {
            throw new JobRunSupersededException(JobId, 0);
        }

        var processed = Progress.AddProcessed();
        bool due;
        lock (_lock)
        {
            _cursors.Add(cursor);
            _itemsSinceCheckpoint++;
            due = _policy.IsDue(_itemsSinceCheckpoint, _sinceCheckpoint.Elapsed);
        }

        if (due)
        {
            await FlushAsync();
            lock (_lock)
            {
                _checkpoints.Add(new JobCheckpoint(cursor, processed, new Dictionary<string, long>(counters ?? new Dictionary<string, long>())));
                _itemsSinceCheckpoint = 0;
                _sinceCheckpoint.Restart();
            }
        }

        OnItemDone?.Invoke(cursor);
    }

    public void BeforeCheckpoint(Func<CancellationToken, Task> flush) => _beforeCheckpoint = flush;

    /// <summary>What the run host does when the handler returns: the registered flush.</summary>
    public Task FlushAsync() => _beforeCheckpoint?.Invoke(CancellationToken.None) ?? Task.CompletedTask;

    public ValueTask<IDisposable> BeginEffectAsync() =>
        _abort.IsCancellationRequested || Superseded
            ? throw new JobRunSupersededException(JobId, 0)
            : ValueTask.FromResult<IDisposable>(new Section());

    private sealed class Section : IDisposable
    {
        public void Dispose()
        {
        }
    }

    public void Log(JobMessageLevel level, string text) => _messages.Add(level, text);

    public void Dispose()
    {
        _stop.Dispose();
        _abort.Dispose();
    }
}
