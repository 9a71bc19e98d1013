namespace OrleansJobs.Jobs.Handlers;

/// <summary>
/// Live progress of one run. Written by the handler's thread, read by status queries on the
/// grain, so every member is thread-safe. The overall fraction is the weighted mean of the
/// sub-operations' fractions when there are any, else processed / total.
/// </summary>
public sealed class JobProgressTracker
{
    private readonly Lock _lock = new();
    private readonly List<OperationState> _operations = [];
    private long _processed;
    private long? _total;
    private long _changes;

    public JobProgressTracker(long processed = 0, long? total = null)
    {
        _processed = processed;
        _total = total;
    }

    /// <summary>Called after each change, outside the tracker's lock (live progress events).</summary>
    internal Action<JobProgressTracker>? Changed { get; set; }

    /// <summary>Sets the number of items the job has in all (null: unknown).</summary>
    public void SetTotal(long? total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total ?? 0, nameof(total));
        lock (_lock)
        {
            _total = total;
            _changes++;
        }

        Changed?.Invoke(this);
    }

    /// <summary>Adds finished items (done by <see cref="IJobContext.ItemDoneAsync"/>).</summary>
    public long AddProcessed(long items = 1)
    {
        long processed;
        lock (_lock)
        {
            _changes++;
            processed = _processed += items;
        }

        Changed?.Invoke(this);
        return processed;
    }

    /// <summary>A named part of the work whose fraction counts <paramref name="weight"/> in the overall fraction.</summary>
    public JobOperationHandle Operation(string name, double weight)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!double.IsFinite(weight) || weight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "weight must be a positive number");
        }

        lock (_lock)
        {
            var existing = _operations.Find(o => o.Name == name);
            if (existing is null)
            {
                existing = new OperationState(name, weight);
                _operations.Add(existing);
            }

            return new JobOperationHandle(this, existing);
        }
    }

    /// <summary>Counts every change of progress: the watchdog calls a run stalled when this stands still too long.</summary>
    public long Changes
    {
        get
        {
            lock (_lock)
            {
                return _changes;
            }
        }
    }

    public JobProgress Snapshot()
    {
        lock (_lock)
        {
            var operations = _operations.Select(o => new JobOperationProgress(o.Name, o.Weight, o.Processed, o.Total)).ToList();
            return new JobProgress(Fraction(), _processed, _total, operations);
        }
    }

    private double Fraction()
    {
        if (_operations.Count > 0)
        {
            var weights = _operations.Sum(o => o.Weight);
            return Clamp(_operations.Sum(o => o.Weight * o.Fraction) / weights);
        }

        return _total is > 0 ? Clamp((double)_processed / _total.Value) : 0;
    }

    private static double Clamp(double value) => Math.Clamp(value, 0, 1);

    internal void Update(OperationState operation, Action<OperationState> change)
    {
        lock (_lock)
        {
            change(operation);
            _changes++;
        }

        Changed?.Invoke(this);
    }

    internal sealed class OperationState(string name, double weight)
    {
        public string Name { get; } = name;

        public double Weight { get; } = weight;

        public long Processed { get; set; }

        public long? Total { get; set; }

        public bool Done { get; set; }

        public double Fraction => Done ? 1 : Total is > 0 ? Clamp((double)Processed / Total.Value) : 0;
    }
}

/// <summary>Reports the progress of one sub-operation.</summary>
public sealed class JobOperationHandle
{
    private readonly JobProgressTracker _tracker;
    private readonly JobProgressTracker.OperationState _operation;

    internal JobOperationHandle(JobProgressTracker tracker, JobProgressTracker.OperationState operation)
    {
        _tracker = tracker;
        _operation = operation;
    }

    public void SetTotal(long? total) => _tracker.Update(_operation, o => o.Total = total);

    public void Advance(long items = 1) => _tracker.Update(_operation, o => o.Processed += items);

    public void Complete() => _tracker.Update(_operation, o => o.Done = true);
}
