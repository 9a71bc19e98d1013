namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Something a job waits for and then holds: a run slot of its type, a library's lock, a device's
/// ownership. A job acquires its resources one at a time in <see cref="AcquisitionOrder"/>,
/// holding what it has while it waits for the next, so two jobs can never wait on each other.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ResourceKey")]
public readonly record struct ResourceKey([property: Id(0)] string Kind, [property: Id(1)] string Id)
{
    public const string RunSlotKind = "slot";

    public const string LibraryKind = "library";

    public const string DevicePoolKind = "devices";

    public const string DeviceKind = "device";

    /// <summary>The kinds in the order every job acquires them (a job waits in a pool of devices, or for one device, never both).</summary>
    public static IReadOnlyList<string> AcquisitionOrder { get; } = [RunSlotKind, LibraryKind, DevicePoolKind, DeviceKind];

    /// <summary>A run slot of job type <paramref name="type"/>.</summary>
    public static ResourceKey RunSlot(string type) => new(RunSlotKind, type);

    /// <summary>The lock of library <paramref name="libraryId"/>.</summary>
    public static ResourceKey Library(string libraryId) => new(LibraryKind, libraryId);

    /// <summary>The first free device of kind <paramref name="kind"/>: granted as the ownership of one device (<see cref="ResourceTicket.Assigned"/>).</summary>
    public static ResourceKey DevicePool(string kind) => new(DevicePoolKind, kind);

    /// <summary>The ownership of device <paramref name="deviceId"/>.</summary>
    public static ResourceKey Device(string deviceId) => new(DeviceKind, deviceId);

    public override string ToString() => $"{Kind}:{Id}";

    /// <summary>Reads what <see cref="ToString"/> wrote (the form kept in job state).</summary>
    public static ResourceKey Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? new ResourceKey(text[..colon], text[(colon + 1)..]) : throw new FormatException($"'{text}' is not a resource key");
    }
}

/// <summary>
/// A resource's answer to a request: granted now, or queued at <see cref="Position"/> while <see cref="Held"/> of
/// <see cref="Limit"/> are taken (by <see cref="Holder"/>, among others). <see cref="Refusal"/>: the resource will
/// never be granted (it was deleted), and why. <see cref="Assigned"/>: the device a pool of devices granted.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ResourceTicket")]
public sealed record ResourceTicket(
    [property: Id(0)] bool Granted,
    [property: Id(1)] int Held,
    [property: Id(2)] int Limit,
    [property: Id(3)] int Position,
    [property: Id(4)] string? Holder = null,
    [property: Id(5)] string? Refusal = null,
    [property: Id(6)] string? Assigned = null);

/// <summary>What an audit of a resource found: holders released and waiters removed (or, dry, that would be).</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ResourceAudit")]
public sealed record ResourceAudit(
    [property: Id(0)] string Resource,
    [property: Id(1)] IReadOnlyList<string> ReleasedHolders,
    [property: Id(2)] IReadOnlyList<string> RemovedWaiters);

/// <summary>What a job says when its resource asks whether it still holds or awaits it.</summary>
[GenerateSerializer, Alias("OrleansJobs.ResourceClaim")]
public enum ResourceClaim
{
    /// <summary>Neither held nor awaited (finished, paused, unknown): the resource frees it.</summary>
    None = 0,

    /// <summary>Held: the job runs (or drains) under it.</summary>
    Holds = 1,

    /// <summary>Awaited: the job waits for it.</summary>
    Waits = 2,
}
