namespace OrleansJobs.Workers;

/// <summary>A wait that doubles from <c>min</c> to <c>max</c>, each one jittered by ±20% so that many idle workers do not poll in step.</summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max)
{
    private readonly TimeSpan _min = min;
    private TimeSpan _next = min;

    public TimeSpan Next()
    {
        var delay = _next;
        _next = delay * 2 < max ? delay * 2 : max;
        // Not a security decision: jitter only spreads polls out.
#pragma warning disable CA5394
        return delay * (0.8 + (0.4 * Random.Shared.NextDouble()));
#pragma warning restore CA5394
    }

    public void Reset() => _next = _min;
}
