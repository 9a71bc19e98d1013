using System.Text.RegularExpressions;

namespace OrleansJobs.Workers;

/// <summary>Who the worker is, what it runs and how it talks to the API.</summary>
public sealed partial class JobWorkerOptions
{
    /// <summary>The API's address, e.g. <c>http://127.0.0.1:8080</c>; null: the given <see cref="HttpClient"/>'s base address.</summary>
    public Uri? BaseAddress { get; init; }

    /// <summary>
    /// The API key sent with every request (<c>Authorization: Bearer</c>): a key with the worker role that
    /// names this worker's job types (or its device). Null: none is sent (the given <see cref="HttpClient"/>
    /// may add one itself). A key refused (401, 403) ends <see cref="JobWorker.RunAsync"/> with a <see cref="WorkerApiException"/>.
    /// </summary>
    public string? ApiKey { get; init; }

    /// <summary>Names the worker in the journal and on the job (1 to 200 characters).</summary>
    public required string WorkerId { get; init; }

    /// <summary>The external job types this worker runs, in the order it prefers them (1 to 20); not needed with <see cref="Device"/>.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    /// <summary>
    /// A device id: the worker is the device's agent and claims only the job that owns that device
    /// (whatever its type). The agent heartbeats the device itself (<c>POST /api/devices/{id}/heartbeat</c>);
    /// until it does, claims are refused and retried after the back-off.
    /// </summary>
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

        if (Types is null || Types.Count > 20 || (Types.Count == 0 && Device is null) || Types.Any(type => string.IsNullOrEmpty(type) || type.Length > 64))
        {
            throw new ArgumentException("Types must name 1 to 20 job types of 1 to 64 characters (or none, with a Device).");
        }

        if (Device is not null && !DevicePattern().IsMatch(Device))
        {
            throw new ArgumentException("Device must be a device id: 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit.");
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

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex DevicePattern();
}
