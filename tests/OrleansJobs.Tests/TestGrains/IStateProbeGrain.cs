namespace OrleansJobs.Tests.TestGrains;

/// <summary>A grain whose state lives in the <c>jobs</c> store, to prove the store survives silos.</summary>
[Alias("OrleansJobs.Tests.IStateProbeGrain")]
public interface IStateProbeGrain : IGrainWithStringKey
{
    /// <summary>Adds to the persisted total and writes it durably; returns the new snapshot.</summary>
    [Alias("Add")]
    Task<StateProbeSnapshot> AddAsync(int amount);

    /// <summary>The stored total and the silo hosting this activation.</summary>
    [Alias("Get")]
    Task<StateProbeSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("OrleansJobs.Tests.StateProbeSnapshot")]
public sealed record StateProbeSnapshot([property: Id(0)] int Total, [property: Id(1)] int Writes, [property: Id(2)] string Silo);
