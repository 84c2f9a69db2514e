"""events tests"""
