print("prunerd")
