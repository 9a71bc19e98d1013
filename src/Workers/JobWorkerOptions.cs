namespace OrleansJobs.Workers;

/// <summary>Who the worker is, what it runs and how it talks to the API.</summary>
public sealed class JobWorkerOptions
{
    /// <summary>The API's address, e.g. <c>http://127.0.0.1:8080</c>; null: the given <see cref="HttpClient"/>'s base address.</summary>
    public Uri? BaseAddress { get; init; }

    /// <summary>Names the worker in the journal and on the job (1 to 200 characters).</summary>
    public required string WorkerId { get; init; }

    /// <summary>The external job types this worker runs, in the order it prefers them (1 to 20).</summary>
    public required IReadOnlyList<string> Types { get; init; }

    /// <summary>A device id: the worker claims only that device's jobs. Null: jobs of the types that name no device.</summary>
    public string? Device { get; init; }

    /// <summary>
    /// How long a lease lasts after the claim and after each report; null: the job type's default
    /// (30 s unless configured). The job type sets the allowed range.
    /// </summary>
    public TimeSpan? LeaseDuration { get; init; }

    /// <summary>How many jobs this worker runs at once (1 by default).</summary>
    public int MaxConcurrentJobs { get; init; } = 1;

    /// <summary>The wait after the first claim that found nothing (or failed); it doubles up to <see cref="MaxClaimDelay"/>.</summary>
    public TimeSpan MinClaimDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two claims that find nothing; a claimed job resets the wait to <see cref="MinClaimDelay"/>.</summary>
    public TimeSpan MaxClaimDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest one HTTP request may take before it counts as failed (and is retried while the lease allows).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock of back-offs, heartbeats and lease deadlines; the system clock by default.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal void Validate(HttpClient? httpClient)
    {
        if (BaseAddress is null && httpClient?.BaseAddress is null)
        {
            throw new ArgumentException("Set BaseAddress, or pass an HttpClient with a BaseAddress.");
        }

        if (BaseAddress is { IsAbsoluteUri: false })
        {
            throw new ArgumentException("BaseAddress must be an absolute URI.");
        }

        if (string.IsNullOrWhiteSpace(WorkerId) || WorkerId.Length > 200)
        {
            throw new ArgumentException("WorkerId must be 1 to 200 characters.");
        }

        if (Types is not { Count: > 0 and <= 20 } || Types.Any(type => string.IsNullOrEmpty(type) || type.Length > 64))
        {
            throw new ArgumentException("Types must name 1 to 20 job types of 1 to 64 characters.");
        }

        if (Device is { Length: 0 })
        {
            throw new ArgumentException("Device must be null or a device id.");
        }

        if (LeaseDuration is { } lease && lease <= TimeSpan.Zero)
        {
            throw new ArgumentException($"LeaseDuration must be above zero (not {lease}).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentJobs, 1, nameof(MaxConcurrentJobs));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MinClaimDelay, TimeSpan.Zero, nameof(MinClaimDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxClaimDelay, MinClaimDelay, nameof(MaxClaimDelay));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero, nameof(RequestTimeout));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
