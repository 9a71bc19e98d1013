namespace OrleansJobs.Safeguards;

/// <summary>What one validator run found and repaired, by kind, with a sample; safe to add to from parallel checks.</summary>
internal sealed class ValidatorTally
{
    private const int SampleSize = 100;

    /// <summary>Each kind's place in the order the validator checks them (the sample is sorted by it).</summary>
    private static readonly Dictionary<string, int> Order =
        ValidatorFindings.All.Select((kind, i) => (kind, i)).ToDictionary(k => k.kind, k => k.i, StringComparer.Ordinal);

    private readonly Dictionary<string, int> _found = ValidatorFindings.All.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
    private readonly Dictionary<string, int> _repaired = ValidatorFindings.All.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
    private readonly List<ValidatorFinding> _sample = [];

    /// <summary>One finding about <paramref name="subject"/>, counted <paramref name="count"/> times (rows, operations).</summary>
    public void Add(string kind, string subject, string detail, bool repaired, int count = 1)
    {
        lock (_sample)
        {
            _found[kind] += count;
            _repaired[kind] += repaired ? count : 0;
            if (_sample.Count < SampleSize)
            {
                _sample.Add(new ValidatorFinding(kind, subject, detail, repaired));
            }
        }
    }

    /// <summary>Rows that nothing owns any more, found (and deleted, unless dry) by one statement.</summary>
    public void AddRows(string kind, int rows, bool deleted)
    {
        if (rows > 0)
        {
            Add(kind, "database", $"{rows} row(s) {(deleted ? "deleted" : "would be deleted")}", deleted, rows);
        }
    }

    public ValidationRun ToRun(string reason, bool dryRun, DateTimeOffset started, DateTimeOffset finished, long jobs, string silo)
    {
        lock (_sample)
        {
            return new ValidationRun(reason, dryRun, started, finished, jobs,
                new Dictionary<string, int>(_found, StringComparer.Ordinal), new Dictionary<string, int>(_repaired, StringComparer.Ordinal),
                [.. _sample.OrderBy(f => Order[f.Kind]).ThenBy(f => f.Subject, StringComparer.Ordinal)], silo);
        }
    }
}

/// <summary>How long each check of a run took, for the log.</summary>
internal sealed class PhaseClock(TimeProvider time)
{
    private readonly long _started = time.GetTimestamp();
    private readonly List<(string Phase, TimeSpan Took)> _phases = [];
    private long _last = time.GetTimestamp();

    public TimeSpan Total => time.GetElapsedTime(_started);

    public void Mark(string phase)
    {
        var now = time.GetTimestamp();
        _phases.Add((phase, time.GetElapsedTime(_last, now)));
        _last = now;
    }

    public override string ToString() => string.Join(", ", _phases.Select(p => $"{p.Phase} {p.Took.TotalSeconds:0.00} s"));
}

/// <summary>The validator's durable state: its last repairing run and the totals of every run.</summary>
public sealed class ValidatorState
{
    public ValidationRun? LastRun { get; set; }

    public long Runs { get; set; }

    public Dictionary<string, long> TotalFound { get; set; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> TotalRepaired { get; set; } = new(StringComparer.Ordinal);

    public void Record(ValidationRun run)
    {
        LastRun = run;
        Runs++;
        foreach (var (kind, count) in run.Found)
        {
            TotalFound[kind] = TotalFound.GetValueOrDefault(kind) + count;
        }

        foreach (var (kind, count) in run.Repaired)
        {
            TotalRepaired[kind] = TotalRepaired.GetValueOrDefault(kind) + count;
        }
    }
}
