namespace OrleansJobs.Devices;

/// <summary>A device as an archive carries it: its definition, when it was registered and last changed, and its version.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ArchivedDevice")]
public sealed record ArchivedDevice(
    [property: Id(0)] DeviceDefinition Definition,
    [property: Id(1)] DateTimeOffset CreatedAt,
    [property: Id(2)] DateTimeOffset UpdatedAt,
    [property: Id(3)] long Version);
