namespace OrleansJobs.Jobs.Handlers;

/// <summary>The newest messages of a job, at most <see cref="Capacity"/>; older ones are dropped first.</summary>
public sealed class JobMessageLog(int capacity = JobMessageLog.DefaultCapacity, TimeProvider? time = null)
{
    public const int DefaultCapacity = 100;

    /// <summary>Longest message kept; longer ones are cut, so one handler cannot bloat the job's state.</summary>
    public const int MaxLength = 2000;

    private readonly Lock _lock = new();
    private readonly Queue<JobMessage> _messages = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Messages dropped because the log was full.</summary>
    public long Dropped { get; private set; }

    /// <summary>Called after each message is added, outside the log's lock (live message events).</summary>
    internal Action<JobMessage>? Added { get; set; }

    public void Add(JobMessageLevel level, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kept = text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength), "…");
        var message = new JobMessage(_time.GetUtcNow(), level, kept);
        lock (_lock)
        {
            _messages.Enqueue(message);
            while (_messages.Count > Capacity)
            {
                _messages.Dequeue();
                Dropped++;
            }
        }

        Added?.Invoke(message);
    }

    public IReadOnlyList<JobMessage> Snapshot()
    {
        lock (_lock)
        {
            return [.. _messages];
        }
    }
}
