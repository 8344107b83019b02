-- wrk script: cycle through request paths from a file, with the API key header from the environment.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local key = os.getenv("WRK_KEY")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], { ["Authorization"] = "Bearer " .. key })
end
