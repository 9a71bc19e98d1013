using OrleansJobs.Hosting;

namespace OrleansJobs.Tests.TestGrains;

public sealed class StateProbeState
{
    public int Total { get; set; }

    public int Writes { get; set; }

    public List<string> Silos { get; set; } = [];
}

public sealed class StateProbeGrain(
    [PersistentState("probe", OrleansJobsDatabase.JobStore)] IPersistentState<StateProbeState> state,
    ILocalSiloDetails silo) : Grain, IStateProbeGrain
{
    async Task<StateProbeSnapshot> IStateProbeGrain.AddAsync(int amount)
    {
        state.State.Total += amount;
        state.State.Writes++;
        state.State.Silos.Add(silo.SiloAddress.ToParsableString());
        await state.WriteStateAsync();
        return Snapshot();
    }

    Task<StateProbeSnapshot> IStateProbeGrain.GetAsync() => Task.FromResult(Snapshot());

    private StateProbeSnapshot Snapshot() => new(state.State.Total, state.State.Writes, silo.SiloAddress.ToParsableString());
}
