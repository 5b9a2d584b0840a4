-- Mixed reads for scripts/bench_server.sh: overview 40 %, a drum 20 %, its trace 20 %,
-- the heat's lab results 10 %, the NCR list 10 %. TOKEN and HEAT come from the environment.
local token = os.getenv("TOKEN")
local heat = os.getenv("HEAT")
local paths = {
  "/api/overview", "/api/overview", "/api/overview", "/api/overview",
  "/api/lots/" .. heat .. "-D1", "/api/lots/" .. heat .. "-D2",
  "/api/lots/" .. heat .. "-D1/trace?direction=backward", "/api/lots/" .. heat .. "-D2/trace?direction=backward",
  "/api/lots/" .. heat .. "/results",
  "/api/nonconformances",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], { ["Authorization"] = "Bearer " .. token })
end
