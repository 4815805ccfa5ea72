"""Drives a real headless Chromium for the browser-safety tests.

Usage: browser.py STEPS_JSON
STEPS_JSON is a list of {"url": ..., "script": ...}: for each, the browser opens the URL and
runs the script (the body of an async function whose return value is the step's result) in
that page. Prints the list of results as JSON. Host names ending in .test resolve to
127.0.0.1, so a page can have a name of its own (as a DNS-rebinding page would).
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

steps = json.loads(sys.argv[1])
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--host-resolver-rules=MAP *.test 127.0.0.1"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_script_timeout(30)
results = []
try:
    for step in steps:
        driver.get(step["url"])
        wrapped = ("const done = arguments[arguments.length - 1];"
                   "(async () => {" + step["script"] + "})()"
                   ".then(done, error => done({error: String(error)}));")
        results.append(driver.execute_async_script(wrapped))
finally:
    driver.quit()
print(json.dumps(results))
