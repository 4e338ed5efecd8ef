"""Review in the browser: a person checks and corrects the plan before anything is published."""
