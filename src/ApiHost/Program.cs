using Orleans.Dashboard;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.ApiHost.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrleansJobsApiHost();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapOpenApi();
app.MapHealthApi();
app.MapJobsApi();
app.MapRecoveryApi();
app.MapWorkersApi();
app.MapOrleansDashboard("/dashboard");
app.Run();
