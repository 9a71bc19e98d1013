namespace OrleansJobs.Jobs.Handlers;

/// <summary>
/// When a run persists a checkpoint: after <see cref="EveryItems"/> finished items or
/// <see cref="Interval"/> since the last one, whichever comes first. A crash redoes at most
/// that much work; each checkpoint costs one durable write.
/// </summary>
public sealed record CheckpointPolicy(int EveryItems, TimeSpan Interval)
{
    /// <summary>100 items or 5 seconds.</summary>
    public static CheckpointPolicy Default { get; } = new(100, TimeSpan.FromSeconds(5));

    public bool IsDue(long itemsSinceCheckpoint, TimeSpan sinceCheckpoint) =>
        itemsSinceCheckpoint > 0 && (itemsSinceCheckpoint >= EveryItems || sinceCheckpoint >= Interval);
}
