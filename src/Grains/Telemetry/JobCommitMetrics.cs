using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Telemetry;

/// <summary>
/// One job activation's view for <see cref="JobMetrics"/>: which journal entries it has counted
/// (each is counted when the write that makes it durable succeeds, never again by a later
/// activation), when the job entered Queued, and when it asked for each kind of resource.
/// </summary>
internal sealed class JobCommitMetrics(JobMetrics metrics, TimeProvider time)
{
    private readonly Dictionary<string, DateTimeOffset> _askedAt = new(StringComparer.Ordinal);
    private HashSet<string> _held = new(StringComparer.Ordinal);
    private long _countedSeq;
    private DateTimeOffset? _queuedSince;

    /// <summary>The state this activation starts from: what it holds and journaled is the previous activation's.</summary>
    public void Loaded(JobState job)
    {
        _countedSeq = job.JournalSeq;
        _held = new HashSet<string>(job.Held, StringComparer.Ordinal);
        _askedAt.Clear();
        // A job that waited while its activation was replaced: its last stored change is when it was queued, or close to it.
        _queuedSince = job.Exists && job.Status == JobStatus.Queued ? job.UpdatedAt : null;
    }

    /// <summary>The job asks for <paramref name="key"/> now.</summary>
    public void Asked(ResourceKey key) => _askedAt[KindOf(key.Kind)] = time.GetUtcNow();

    /// <summary>What the job holds after a decision: each resource newly held ends a wait.</summary>
    public void Holding(IReadOnlyCollection<string> held)
    {
        if (held.Count == _held.Count && _held.SetEquals(held))
        {
            return;
        }

        foreach (var resource in held.Where(r => !_held.Contains(r)))
        {
            var kind = KindOf(ResourceKey.Parse(resource).Kind);
            if (_askedAt.Remove(kind, out var asked))
            {
                metrics.ResourceWaited(kind, time.GetUtcNow() - asked);
            }
        }

        _held = new HashSet<string>(held, StringComparer.Ordinal);
    }

    /// <summary>A write of <paramref name="job"/> succeeded after <paramref name="elapsed"/>: its new journal entries are durable.</summary>
    public void Stored(JobState job, TimeSpan elapsed)
    {
        metrics.StateWritten(elapsed);
        if (job.JournalSeq <= _countedSeq)
        {
            return;
        }

        // Entries leave the outbox only once projected, which follows their write: the new ones are all there.
        foreach (var entry in job.Outbox)
        {
            if (entry.Seq <= _countedSeq)
            {
                continue;
            }

            metrics.Journaled(job, entry, _queuedSince);
            if (entry.Type == JournalEntryTypes.Submitted || entry.To == JobStatus.Queued)
            {
                _queuedSince = entry.At;
            }
            else if (entry.To is { } to && to != JobStatus.Queued)
            {
                _queuedSince = null;
            }
        }

        _countedSeq = job.JournalSeq;
    }

    /// <summary>A state that was never stored was dropped (a refused submit): nothing of it is counted.</summary>
    public void Discarded() => Loaded(new JobState());

    /// <summary>The label of a resource kind: a device from a pool is a device.</summary>
    private static string KindOf(string kind) => kind == ResourceKey.DevicePoolKind ? ResourceKey.DeviceKind : kind;
}
